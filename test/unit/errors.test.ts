import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WatchdogError, prebuiltAnswer, writeRawError } from '../../src/errors.js';

describe('the error catalogue', () => {
  it("builds the limiter 429 once, with faas-middleware as X-OpenFaaS-Internal and the originals' plain Content-Type", () => {
    const answer = prebuiltAnswer(
      new WatchdogError('TOO_MANY_REQUESTS', 'Concurrent request limit exceeded. Max concurrent requests: 1\n'),
    );
    expect(answer.status).toBe(429);
    expect(answer.headers).toEqual({
      'X-OpenFaaS-Internal': 'faas-middleware',
      'Content-Type': 'text/plain',
      'Content-Length': '62',
    });
    expect(answer.body.toString()).toBe('Concurrent request limit exceeded. Max concurrent requests: 1\n');
  });

  it('writes a raw answer with each header once, the status text, and a byte body as is', async () => {
    const socket = new PassThrough();
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((r) => socket.on('end', r));
    writeRawError(socket, new WatchdogError('UNAUTHORIZED', Buffer.from([0x6e, 0x6f, 0xff, 0x0a])));
    await ended;
    const raw = Buffer.concat(chunks);
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
    expect(head.split('\r\n')).toEqual([
      'HTTP/1.1 401 Unauthorized',
      'X-OpenFaaS-Internal: of-watchdog',
      'WWW-Authenticate: Bearer realm="fwatchdog"',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Length: 4',
      'Connection: close',
    ]);
    expect(raw.subarray(raw.indexOf('\r\n\r\n') + 4)).toEqual(Buffer.from([0x6e, 0x6f, 0xff, 0x0a]));
  });
});
