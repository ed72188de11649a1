// src/internals.ts and the undici build patches (scripts/bundle-options.mjs): the private parts of Node, undici
// and prom-client the watchdog relies on. Each test fails when an upgrade changes what the code relies on.
import { fstatSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import * as prom from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  currentAnswer,
  editHeaderBlock,
  heldBack,
  onTurn,
  registerCustomMetric,
  stopListening,
  streamFd,
  type CustomMetric,
} from '../../src/internals.js';
import { createSocketPair } from '../../src/process/socket-pair.js';
import { withTimeout } from '../helpers/watchdog.js';

const require = createRequire(import.meta.url);

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Everything `socket` receives until it closes (or `ms` pass). */
function received(socket: Socket, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    const timer = setTimeout(() => resolve({ text, closed: false }), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

describe('Node internals', () => {
  it('streamFd gives the real file descriptor of a socket-pair end, and none once it is closed', async () => {
    const pair = await createSocketPair();
    onTestFinished(() => {
      pair.parentEnd.destroy();
      pair.childEnd.destroy();
    });
    const fd = streamFd(pair.childEnd);
    expect(fd).toBeTypeOf('number');
    expect(fstatSync(fd as number).isSocket()).toBe(true);
    expect(streamFd('pipe')).toBeUndefined();
    pair.childEnd.destroy();
    await new Promise((r) => setImmediate(r));
    expect(streamFd(pair.childEnd)).toBeUndefined();
  });

  it('stopListening refuses new connections, keeps idle keep-alive ones open, and still enforces headersTimeout', async () => {
    const server = createServer(
      { headersTimeout: 200, requestTimeout: 200, connectionsCheckingInterval: 25, keepAliveTimeout: 5000 },
      (_req, res) => res.end('ok'),
    );
    onTestFinished(() => {
      server.closeAllConnections();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const idle = await connected(port);
    onTestFinished(() => {
      idle.destroy();
    });
    const answered = new Promise<string>((r) => idle.once('data', (c: Buffer) => r(c.toString())));
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await withTimeout(answered, 2000, 'the first answer')).toContain('200 OK');
    const slow = await connected(port);
    onTestFinished(() => {
      slow.destroy();
    });
    slow.write('GET / HTTP/1.1\r\nHost: x\r\n'); // headers never finished

    stopListening(server);
    expect(server.listening).toBe(false);
    await expect(connected(port)).rejects.toThrow(/ECONNREFUSED/);
    const [onIdle, onSlow] = await Promise.all([received(idle, 400), received(slow, 2000)]);
    // http.Server.close() would have closed the idle one at once.
    expect(onIdle.closed).toBe(false);
    // The connections check still runs: the unfinished head gets its 408.
    expect(onSlow.text).toContain('408');
    const again = new Promise<string>((r) => idle.once('data', (c: Buffer) => r(c.toString())));
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await withTimeout(again, 2000, 'an answer on the kept connection')).toContain('200 OK');
  });

  it('a pipelined answer is held back (no socket) behind the one Node is writing, and its turn comes once that one finished', async () => {
    const seen: Array<{ held: boolean; current: ServerResponse | undefined; res: ServerResponse }> = [];
    const turns: Array<{ held: boolean; current: ServerResponse | undefined }> = [];
    const server = createServer((req, res) => {
      seen.push({ held: heldBack(res), current: currentAnswer(req.socket), res });
      if (seen.length === 1) setTimeout(() => res.end('first'), 100);
      else
        onTurn(res, () => {
          turns.push({ held: heldBack(res), current: currentAnswer(req.socket) });
          res.end('second');
        });
    });
    onTestFinished(() => {
      server.closeAllConnections();
      server.close();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = await connected((server.address() as { port: number }).port);
    onTestFinished(() => {
      socket.destroy();
    });
    const all = received(socket, 2000);
    socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const { text } = await all;
    expect(text.indexOf('first')).toBeLessThan(text.indexOf('second'));
    expect(seen.map((s) => s.held)).toEqual([false, true]);
    // Node writes the first answer while the second request is already read.
    expect(seen[0]?.current).toBe(seen[0]?.res);
    expect(seen[1]?.current).toBe(seen[0]?.res);
    expect(turns).toEqual([{ held: false, current: seen[1]?.res }]);
  });
  it('editHeaderBlock sees the header block writeHead built, with the keep-alive lines Node adds, and what it returns is sent', async () => {
    let seen = '';
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': '2' });
      editHeaderBlock(res, (head) => {
        seen = head;
        return head.replace('\r\nConnection: keep-alive\r\n', '\r\nX-Edited: yes\r\n');
      });
      res.end('ok');
    });
    onTestFinished(() => void server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sock = connect((server.address() as { port: number }).port, '127.0.0.1');
    onTestFinished(() => void sock.destroy());
    let wire = '';
    sock.on('data', (d: Buffer) => (wire += d.toString('latin1')));
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await withTimeout(
      new Promise<void>((r) => {
        const t = setInterval(() => {
          if (wire.includes('\r\n\r\nok')) {
            clearInterval(t);
            r();
          }
        }, 5);
      }),
      2000,
      'the answer',
    );
    expect(seen).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(seen).toContain('\r\nConnection: keep-alive\r\n');
    expect(wire).toContain('\r\nX-Edited: yes\r\n');
    expect(wire).not.toContain('Connection: keep-alive');
  });
});

describe('prom-client internals', () => {
  it('a custom metric answering get() is scraped as prom-client scrapes its own (the full comparison: request-series.test.ts)', async () => {
    const reg = new prom.Registry();
    const metric: CustomMetric = {
      name: 'probe_total',
      help: 'a probe',
      type: 'counter',
      aggregator: 'sum',
      get: () =>
        Promise.resolve({
          name: 'probe_total',
          help: 'a probe',
          type: 'counter',
          aggregator: 'sum',
          values: [{ labels: { code: '200' }, value: 3 }],
        }),
      reset: () => undefined,
    };
    registerCustomMetric(reg, metric);
    expect(await reg.metrics()).toBe(
      '# HELP probe_total a probe\n# TYPE probe_total counter\nprobe_total{code="200"} 3\n',
    );
  });
});

describe('undici internals (the deep import in src/modes/http/proxy-call.ts and the patches of scripts/bundle-options.mjs)', () => {
  const lib = join(require.resolve('undici/package.json'), '..', 'lib');

  it('undici/lib/dispatcher/pool.js is the public Pool', () => {
    expect(require('undici/lib/dispatcher/pool.js')).toBe((require('undici') as { Pool: unknown }).Pool);
  });

  it("client.js loads HTTP/2 as './client-h2.js' (made lazy) and calls it as connectH2(client, socket)", () => {
    const text = readFileSync(join(lib, 'dispatcher', 'client.js'), 'utf8');
    expect(text).toContain("require('./client-h2.js')");
    expect(text).toMatch(/connectH2\(client, socket\)/);
  });

  it('undici uses node:assert only as assert(value) or assert.ok(value), all the plain check provides', () => {
    const files = readdirSync(lib, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    const imports: string[] = [];
    const methods: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(lib, file), 'utf8');
      for (const m of text.matchAll(/^.*require\(['"](?:node:)?assert(?:\/strict)?['"]\).*$/gm))
        imports.push(m[0].trim());
      for (const m of text.matchAll(/\bassert\.(\w+)/g)) if (m[1] !== 'ok') methods.push(`${file}: assert.${m[1]}`);
    }
    expect(imports.length).toBeGreaterThan(0);
    expect([...new Set(imports)]).toEqual(["const assert = require('node:assert')"]);
    expect(methods).toEqual([]);
  });
});
