import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { freePort, until } from '../helpers/process.js';

const KEY = 'k3y-Of-the-f4nction-9d2c1e';

/** A watchdog running `record-start` (echo + a line per start) behind an API key read from a Kubernetes-style mount. */
async function keyedWatchdog(fileContent: string, extra: Record<string, string> = {}) {
  const mount = createSecretMount({ 'api-key': fileContent });
  const marker = join(makeTmpDir(), 'starts');
  const wd = await startWatchdog({
    fprocess: fixture('record-start'),
    START_MARKER_FILE: marker,
    secret_mount_path: mount.path,
    auth_api_key_secret: 'api-key',
    ...extra,
  });
  const starts = (): number =>
    existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean).length : 0;
  return { wd, mount, starts };
}

describe('API key authentication', () => {
  it('lets a request with the right key in X-Api-Key reach the function', async () => {
    const { wd, starts } = await keyedWatchdog(KEY);
    const res = await send(wd.url, { method: 'POST', headers: { 'X-Api-Key': KEY }, body: 'hello' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello');
    expect(starts()).toBe(1);
  });

  it('answers 401 with WWW-Authenticate to a wrong key and never starts the function', async () => {
    const { wd, starts } = await keyedWatchdog(KEY);
    const res = await send(wd.url, { method: 'POST', headers: { 'X-Api-Key': `${KEY}x` }, body: 'hello' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm=/);
    expect(res.headers['x-openfaas-internal']).toBe('of-watchdog');
    expect(res.text).toBe('invalid API key\n');
    expect(res.text).not.toContain(KEY);
    expect(starts()).toBe(0);
  });

  it('answers 401 to a request without a key and never starts the function', async () => {
    const { wd, starts } = await keyedWatchdog(KEY);
    const res = await send(wd.url, { method: 'POST', body: 'hello' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBeDefined();
    expect(res.text).toMatch(/^missing API key/);
    expect(starts()).toBe(0);
  });

  it('trims the trailing newline of the secret file', async () => {
    const { wd } = await keyedWatchdog(`${KEY}\n`);
    const ok = await send(wd.url, { method: 'POST', headers: { 'X-Api-Key': KEY }, body: 'a' });
    expect(ok.status).toBe(200);
    const withNewlineOnly = await send(wd.url, { method: 'POST', headers: { 'X-Api-Key': `${KEY}n` }, body: 'a' });
    expect(withNewlineOnly.status).toBe(401);
  });

  it('accepts the key as Authorization: Bearer <key>', async () => {
    const { wd } = await keyedWatchdog(KEY);
    const ok = await send(wd.url, { method: 'POST', headers: { Authorization: `Bearer ${KEY}` }, body: 'b' });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('b');
    const wrong = await send(wd.url, { method: 'POST', headers: { Authorization: 'Bearer nope' }, body: 'b' });
    expect(wrong.status).toBe(401);
    const basic = await send(wd.url, { method: 'POST', headers: { Authorization: `Basic ${KEY}` }, body: 'b' });
    expect(basic.status).toBe(401);
  });

  it('reads the key from a custom header name given in any case', async () => {
    const { wd } = await keyedWatchdog(KEY, { auth_api_key_header: 'X-Function-Token' });
    expect((await send(wd.url, { headers: { 'x-function-token': KEY } })).status).toBe(200);
    expect((await send(wd.url, { headers: { 'X-Api-Key': KEY } })).status).toBe(401);
  });

  it('does not pass the accepted key on to the function', async () => {
    const mount = createSecretMount({ 'api-key': KEY });
    const wd = await startWatchdog({
      fprocess: fixture('env-dump'),
      secret_mount_path: mount.path,
      auth_api_key_secret: 'api-key',
    });
    const viaHeader = await send(wd.url, { method: 'POST', headers: { 'X-Api-Key': KEY, 'X-Other': 'kept' } });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.text).toContain('Http_X_Other=kept');
    expect(viaHeader.text).not.toContain(KEY);
    const viaBearer = await send(wd.url, { method: 'POST', headers: { Authorization: `Bearer ${KEY}` } });
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.text).not.toContain(KEY);
    expect(viaBearer.text).toContain(`secret_mount_path=${mount.path}`);
  });

  it('does not forward the accepted key to an http-mode upstream, and guards WebSocket upgrades', async () => {
    const mount = createSecretMount({ 'api-key': KEY });
    const port = await freePort();
    const wd = await startWatchdog({
      mode: 'http',
      fprocess: fixture('upstreams/upstream'),
      upstream_url: `http://127.0.0.1:${port}`,
      PORT: String(port),
      WS: '1',
      secret_mount_path: mount.path,
      auth_api_key_secret: 'api-key',
    });
    for (const headers of [
      { 'X-Api-Key': KEY, 'X-Other': 'kept' },
      { Authorization: `Bearer ${KEY}`, 'X-Other': 'kept' },
    ]) {
      // The upstream answers with a JSON copy of the request it got.
      const res = await send(`${wd.url}/inspect`, { headers });
      expect(res.status).toBe(200);
      expect(res.text).toContain('kept');
      expect(res.text).not.toContain(KEY);
    }
    expect((await send(`${wd.url}/inspect`, { headers: { 'X-Api-Key': 'wrong' } })).status).toBe(401);

    const refused = new WebSocket(`${wd.url.replace('http', 'ws')}/chat`);
    refused.on('error', () => {
      // Expected: the handshake is refused, and terminate() on it reports an error too.
    });
    onTestFinished(() => refused.terminate());
    const answer = await withTimeout(
      new Promise<IncomingMessage>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res))),
      2000,
      'the refused upgrade',
    );
    expect(answer.statusCode).toBe(401);
    expect(answer.headers['www-authenticate']).toBeDefined();
    const accepted = new WebSocket(`${wd.url.replace('http', 'ws')}/chat`, { headers: { 'X-Api-Key': KEY } });
    onTestFinished(() => accepted.terminate());
    const hello = await withTimeout(
      new Promise<string>((resolve) => accepted.once('message', (d: Buffer) => resolve(d.toString()))),
      2000,
      'the tunnelled hello',
    );
    expect(hello).toBe('hello /chat');
  });

  it('guards static mode too', async () => {
    const mount = createSecretMount({ 'api-key': KEY });
    const site = makeTmpDir();
    writeFileSync(join(site, 'index.html'), '<h1>private</h1>');
    const wd = await startWatchdog({
      mode: 'static',
      static_path: site,
      secret_mount_path: mount.path,
      auth_api_key_secret: 'api-key',
    });
    const refused = await send(`${wd.url}/`);
    expect(refused.status).toBe(401);
    expect(refused.text).not.toContain('private');
    const served = await send(`${wd.url}/`, { headers: { 'X-Api-Key': KEY } });
    expect(served.status).toBe(200);
    expect(served.text).toBe('<h1>private</h1>');
  });

  it('keeps a keep-alive connection usable after refusing a chunked body under max_body_bytes', async () => {
    const { wd } = await keyedWatchdog(KEY, { max_body_bytes: String(10 * 1024 * 1024) });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => agent.destroy());
    async function* twoMegabytes(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 32; i++) yield Buffer.alloc(64 * 1024, 7);
    }
    const refused = await withTimeout(
      send(wd.url, { agent, method: 'POST', headers: { 'X-Api-Key': 'wrong' }, body: twoMegabytes() }),
      3000,
      'the refused request',
    );
    expect(refused.status).toBe(401);
    const next = await withTimeout(
      send(wd.url, { agent, method: 'POST', headers: { 'X-Api-Key': KEY }, body: 'next' }),
      3000,
      'the next request on the same connection',
    );
    expect(next.status).toBe(200);
    expect(next.text).toBe('next');
  });

  it('leaves health and readiness unguarded and counts 401s in metrics', async () => {
    const { wd } = await keyedWatchdog(KEY);
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
    expect((await send(wd.url, { method: 'POST' })).status).toBe(401);
    expect((await send(wd.url, { method: 'POST', headers: { 'X-Api-Key': 'no' } })).status).toBe(401);
    const text = await wd.metrics.registry.metrics();
    expect(text).toMatch(/http_requests_total\{code="401",method="post"\} 2/);
    expect(text).not.toContain(KEY);
  });

  it('follows a Kubernetes-style rotation of the secret while running', async () => {
    const { wd, mount } = await keyedWatchdog(KEY);
    expect((await send(wd.url, { headers: { 'X-Api-Key': KEY } })).status).toBe(200);
    const next = 'rotated-key-7f0b';
    mount.rotate({ 'api-key': `${next}\n` });
    // The file is re-checked at most every 250ms: poll until the new key is accepted.
    await until(
      async () => (await send(wd.url, { headers: { 'X-Api-Key': next } })).status === 200,
      3000,
      'the rotated key to be accepted',
      50,
    );
    expect((await send(wd.url, { headers: { 'X-Api-Key': KEY } })).status).toBe(401);
    await wd.logs.waitFor(/secret \\?"api-key\\?" changed/);
  });

  it('refuses every request with 503 once the secret file disappears, and recovers when it is back', async () => {
    const { wd, mount } = await keyedWatchdog(KEY);
    mount.rotate({});
    await until(
      async () => (await send(wd.url, { headers: { 'X-Api-Key': KEY } })).status === 503,
      3000,
      'the removed key to be refused',
      50,
    );
    await wd.logs.waitFor(/secret \\?"api-key\\?" at .* not found/);
    mount.rotate({ 'api-key': KEY });
    await until(
      async () => (await send(wd.url, { headers: { 'X-Api-Key': KEY } })).status === 200,
      3000,
      'the restored key to be accepted',
      50,
    );
  });

  for (const mode of ['streaming', 'classic']) {
    it(`never writes the secret into any log line in ${mode} mode, with debug logging, a function that logs its env, and failed attempts`, async () => {
      // The function prints its whole environment to stderr (logged in streaming, logged via write_debug in classic).
      const { wd, mount } = await keyedWatchdog(KEY, {
        mode,
        fprocess: 'sh -c "env >&2; cat"',
        write_debug: 'true',
        debug_headers: 'true',
        log_format: 'text',
      });
      for (const headers of [
        {},
        { 'X-Api-Key': 'wrong' },
        { 'X-Api-Key': KEY.slice(0, -1) },
        { Authorization: `Bearer ${KEY}x` },
        { 'X-Api-Key': KEY },
        { Authorization: `Bearer ${KEY}` },
      ]) {
        await send(wd.url, { method: 'POST', headers, body: 'payload' });
      }
      mount.rotate({ 'api-key': 'second-secret-value' });
      await until(
        async () => (await send(wd.url, { headers: { 'X-Api-Key': 'second-secret-value' } })).status === 200,
        3000,
        'the rotated key',
        50,
      );
      await wd.logs.waitFor(/secret \\?"api-key\\?" changed/);
      // The function's env dump reaches the logs (stderr lines, or write_debug's copy of the output).
      await until(() => `${wd.logs.text}${wd.out.text}`.includes('Http_Method=POST'), 2000, 'the env dump in the logs');
      const all = `${wd.logs.text}\n${wd.out.text}\n${await wd.metrics.registry.metrics()}`;
      expect(all).toContain(' 401 ');
      expect(all).not.toContain(KEY);
      expect(all).not.toContain('second-secret-value');
    });
  }
});
