import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { send } from '../helpers/http.js';
import { rawConnect } from '../helpers/raw.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { until } from '../helpers/process.js';

const SECRET = 'webhook-s3cret-4a1f';

function sign(body: Buffer | string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

async function* chunked(body: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
}

async function signedWatchdog(extra: Record<string, string> = {}) {
  const mount = createSecretMount({ 'hook-secret': `${SECRET}\n` });
  const marker = join(makeTmpDir(), 'starts');
  const wd = await startWatchdog({
    fprocess: fixture('record-start'),
    START_MARKER_FILE: marker,
    secret_mount_path: mount.path,
    auth_hmac_secret: 'hook-secret',
    ...extra,
  });
  const starts = (): number =>
    existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean).length : 0;
  return { wd, mount, starts };
}

describe('HMAC body signature', () => {
  it('passes a correctly signed body to the function', async () => {
    const { wd, starts } = await signedWatchdog();
    const body = '{"action":"opened"}';
    const res = await send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(body) }, body });
    expect(res.status).toBe(200);
    expect(res.text).toBe(body);
    expect(starts()).toBe(1);
  });

  it('answers 401 to a wrong signature and never starts the function', async () => {
    const { wd, starts } = await signedWatchdog();
    const body = '{"action":"opened"}';
    const res = await send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(`${body} `) }, body });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBeDefined();
    expect(res.text).toBe('invalid body signature\n');
    const otherKey = await send(wd.url, {
      method: 'POST',
      headers: { 'X-Hub-Signature-256': sign(body, 'other') },
      body,
    });
    expect(otherKey.status).toBe(401);
    const malformed = await send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': 'sha1=abc' }, body });
    expect(malformed.status).toBe(401);
    expect(starts()).toBe(0);
  });

  it('answers 401 to a missing signature', async () => {
    const { wd, starts } = await signedWatchdog();
    const res = await send(wd.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(401);
    expect(res.text).toMatch(/^missing body signature/);
    expect(starts()).toBe(0);
  });

  it('verifies a 5 MB binary body sent chunked and passes it on byte-exact', async () => {
    const { wd } = await signedWatchdog();
    const body = randomBytes(5 * 1024 * 1024);
    const res = await withTimeout(
      send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(body) }, body: chunked(body, 64 * 1024) }),
      10_000,
      '5 MB signed request',
    );
    expect(res.status).toBe(200);
    expect(res.body.equals(body)).toBe(true);
  });

  it('rejects a 5 MB body whose last byte was changed', async () => {
    const { wd, starts } = await signedWatchdog();
    const body = randomBytes(5 * 1024 * 1024);
    const signature = sign(body);
    body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
    const res = await withTimeout(
      send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': signature }, body }),
      10_000,
      '5 MB tampered request',
    );
    expect(res.status).toBe(401);
    expect(starts()).toBe(0);
  });

  it('answers 413 to a signed body larger than max_body_bytes, declared or chunked', async () => {
    const { wd, starts } = await signedWatchdog({ max_body_bytes: String(1024 * 1024) });
    const body = randomBytes(5 * 1024 * 1024);
    const declared = await withTimeout(
      send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(body) }, body }),
      10_000,
      'declared',
    );
    expect(declared.status).toBe(413);
    const streamed = await withTimeout(
      send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(body) }, body: chunked(body, 64 * 1024) }),
      10_000,
      'chunked',
    );
    expect(streamed.status).toBe(413);
    expect(streamed.headers.connection).toBe('close');
    expect(starts()).toBe(0);
  });

  it('caps signed bodies at 64 MiB when max_body_bytes is unlimited, before reading them', async () => {
    const { wd, starts } = await signedWatchdog();
    const conn = await rawConnect(wd.port);
    // Only the headers are sent: the declared length alone must get the 413.
    conn.write(
      `POST / HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: ${sign('x')}\r\nContent-Length: ${64 * 1024 * 1024 + 1}\r\n\r\n`,
    );
    const answer = await withTimeout(conn.closed, 3000, 'the 413 for a declared 64 MiB + 1 body');
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(starts()).toBe(0);
  });

  it('combines with the API key: both must be right', async () => {
    const mount = createSecretMount({ 'hook-secret': SECRET, 'api-key': 'the-key' });
    const wd = await startWatchdog({
      fprocess: 'cat',
      secret_mount_path: mount.path,
      auth_hmac_secret: 'hook-secret',
      auth_api_key_secret: 'api-key',
    });
    const body = 'both';
    expect(
      (
        await send(wd.url, {
          method: 'POST',
          headers: { 'X-Api-Key': 'the-key', 'X-Hub-Signature-256': sign(body) },
          body,
        })
      ).status,
    ).toBe(200);
    expect((await send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(body) }, body })).status).toBe(
      401,
    );
    expect(
      (
        await send(wd.url, {
          method: 'POST',
          headers: { 'X-Api-Key': 'the-key', 'X-Hub-Signature-256': sign('x') },
          body,
        })
      ).status,
    ).toBe(401);
  });

  it('follows a rotation of the HMAC secret and never logs it', async () => {
    const { wd, mount } = await signedWatchdog({ log_format: 'text' });
    const body = 'ping';
    expect((await send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(body) }, body })).status).toBe(
      200,
    );
    expect(
      (await send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(body, 'guess') }, body })).status,
    ).toBe(401);
    mount.rotate({ 'hook-secret': 'next-hook-secret' });
    await until(
      async () =>
        (
          await send(wd.url, {
            method: 'POST',
            headers: { 'X-Hub-Signature-256': sign(body, 'next-hook-secret') },
            body,
          })
        ).status === 200,
      3000,
      'the rotated HMAC secret',
      50,
    );
    expect((await send(wd.url, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(body) }, body })).status).toBe(
      401,
    );
    const all = `${wd.logs.text}\n${wd.out.text}`;
    expect(all).toContain('- 401 -');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('next-hook-secret');
  });
});
