// Malformed and hostile HTTP: each gets a 4xx or a closed connection, never the function.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { rawExchange } from './raw.js';
import { report } from './support.js';
import { childrenOf, until } from '../helpers/process.js';

const HOST = 'Host: 127.0.0.1\r\n';

const CASES: Array<[string, Array<string | Buffer>]> = [
  [
    'an invalid chunk size',
    [`POST /bad-chunk HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n`],
  ],
  [
    'both Content-Length and Transfer-Encoding',
    [`POST /cl-te HTTP/1.1\r\n${HOST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ],
  [
    'two different Content-Length headers',
    [`POST /cl-cl HTTP/1.1\r\n${HOST}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`],
  ],
  ['a NUL byte in a header value', [`GET /nul HTTP/1.1\r\n${HOST}X-Evil: a\0b\r\n\r\n`]],
  [
    '2 MiB of headers',
    [
      `GET /big HTTP/1.1\r\n${HOST}`,
      ...Array.from({ length: 32 }, (_, i) => `X-Pad-${i}: ${'p'.repeat(64 * 1024)}\r\n`),
      '\r\n',
    ],
  ],
  ['a garbage request line', ['HELLO THERE\r\n\r\n']],
  ['a control character in the request target', [`GET /a\x01b HTTP/1.1\r\n${HOST}\r\n`]],
  ['no Host header in HTTP/1.1', ['GET /no-host HTTP/1.1\r\n\r\n']],
  ['an obsolete line folding', [`GET /fold HTTP/1.1\r\n${HOST}X-A: a\r\n  b\r\n\r\n`]],
];

describe('hostile input', () => {
  it.each(CASES)('answers %s with a 4xx or a closed connection, without running the function', async (name, parts) => {
    const calls = join(makeTmpDir(), 'calls');
    const wd = await startWatchdog({ fprocess: fixture('record-call'), CALLS_FILE: calls });
    const r = await withTimeout(rawExchange(wd.port, parts), 3000, 'the raw exchange');
    report(`hostile input: ${name}`, { status: r.status ?? 'closed' });
    expect(
      r.status === undefined ? r.closed : r.status >= 400 && r.status < 500,
      `got ${JSON.stringify(r.response.slice(0, 200))}`,
    ).toBe(true);
    await until(() => wd.watchdog.inFlight === 0, 2000, 'no request left in flight');
    const health = await send(`${wd.url}/_/health`);
    expect(health.status).toBe(200);
    const ok = await send(wd.url, { method: 'POST', path: '/after', body: 'still here' });
    expect(ok.text).toBe('still here');
    // Evidence, not a wait: the function records every call it gets, and the one after the hostile input is the only one.
    expect(readFileSync(calls, 'utf8')).toBe('POST /after\n');
  });

  it('cuts a request whose bad chunk arrives after the function started, and ends the process', async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    const r = await withTimeout(
      rawExchange(
        wd.port,
        [
          `POST /late-bad-chunk HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`,
          'ZZ\r\nxyz\r\n0\r\n\r\n',
        ],
        { gapMs: 100 },
      ),
      3000,
      'the raw exchange',
    );
    // Streaming had already committed the 200 with the first chunk: the answer must be cut, never completed.
    expect(r.closed).toBe(true);
    expect(r.response).not.toContain('0\r\n\r\n');
    expect(r.response).not.toContain('xyz');
    await until(() => childrenOf(process.pid).length === 0, 3000, 'the function process to end');
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
  });
});
