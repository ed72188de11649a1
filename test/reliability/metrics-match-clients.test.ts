// A bounded load on `cat` in streaming mode (the built binary): the status codes the metrics count must be
// the ones the clients saw. One run of 3,700 requests at 20 connections once counted 17 false 500s
// (`function failed: exit status 0`) while every client got its 200.
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { freePort } from '../helpers/process.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';

interface LoadResult {
  errors: number;
  statusCodeStats?: Record<string, { count: number }>;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: Record<string, unknown>,
) => Promise<LoadResult>;

beforeAll(() => ensureBinary(), 120_000);

const REQUESTS = 2000;

/** http_requests_total by code. */
function codes(metrics: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics.matchAll(/^http_requests_total\{[^}]*code="(\d+)"[^}]*\} (\d+)$/gm))
    out[m[1] as string] = (out[m[1] as string] ?? 0) + Number(m[2]);
  return out;
}

describe('metrics under load', () => {
  it(`count exactly what the clients saw: ${REQUESTS} requests at 20 connections on cat, streaming`, async () => {
    const metricsPort = await freePort();
    const wd = await startBinary({
      fprocess: 'cat',
      metrics_port: String(metricsPort),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
      PATH: process.env.PATH ?? '/usr/bin:/bin',
    });
    await wd.waitReady();
    const result = await autocannon({ url: wd.url, method: 'POST', body: 'hello', connections: 20, amount: REQUESTS });
    const seen: Record<string, number> = {};
    for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) seen[code] = stat.count;
    const counted = codes((await send(`http://127.0.0.1:${metricsPort}/metrics`)).text);
    expect(result.errors).toBe(0);
    expect(counted).toEqual(seen);
    expect(seen['200']).toBe(REQUESTS);
    expect(wd.stderr).not.toContain('function failed');
  }, 120_000);

  // The race, made certain: the function exits 0 by itself, and the end of its output comes after the
  // watchdog has started to end the call (here a background child holds stdout, so the watchdog stops
  // waiting for it). The exit was its own: a 200 in every fork mode, streaming included (it was a
  // `function failed: exit status 0`, a 500 in the metrics and a cut answer).
  it('a function that exits 0 while its output is still held open is a success in streaming mode', async () => {
    const metricsPort = await freePort();
    const pidFile = `${makeTmpDir()}/bg.pid`;
    const wd = await startBinary({
      fprocess: fixture('background-holds-output'),
      PID_FILE: pidFile,
      metrics_port: String(metricsPort),
      TMPDIR: makeTmpDir(),
      healthcheck_interval: '0',
      PATH: process.env.PATH ?? '/usr/bin:/bin',
    });
    await wd.waitReady();
    const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 3000, 'the call');
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok\n');
    expect(codes((await send(`http://127.0.0.1:${metricsPort}/metrics`)).text)).toEqual({ '200': 1 });
    expect(wd.stderr).not.toContain('function failed');
  });
});
