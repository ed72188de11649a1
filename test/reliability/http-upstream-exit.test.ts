// http mode: the upstream exits mid-load; nothing hangs, in-flight requests get 502, the watchdog exits non-zero.
import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';
import { report, startBinary } from './support.js';
import { freePort, until } from '../helpers/process.js';

const CLIENTS = 10;

interface Outcome {
  path: string;
  sentAtMs: number;
  tookMs: number;
  status?: number;
  error?: string;
}

function call(url: string, path: string, agent: Agent, started: number): Promise<Outcome> {
  const t0 = performance.now();
  const base = { path, sentAtMs: t0 - started };
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ...base, tookMs: performance.now() - t0, status: res.statusCode as number }));
      res.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ ...base, tookMs: performance.now() - t0, error: err.code ?? err.message }),
      );
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({
        ...base,
        tookMs: performance.now() - t0,
        error: `${err.code ?? err.message}${req.reusedSocket ? ' on a reused socket' : ''}`,
      }),
    );
    req.end();
  });
}

describe('http mode when the upstream exits under load', () => {
  it('answers in-flight requests 502, never hangs a request over 3 s, and exits non-zero', async () => {
    const upstreamPort = await freePort();
    const wd = await startBinary({
      mode: 'http',
      fprocess: fixture('upstreams/upstream'),
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      PORT: String(upstreamPort),
      healthcheck_interval: '0',
      TMPDIR: makeTmpDir(),
    });
    const started = performance.now();
    let exited = false;
    void wd.exited.then(() => (exited = true));
    const outcomes: Outcome[] = [];
    const client = async (): Promise<void> => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        while (!exited) {
          const o = await call(wd.url, '/slow?ms=200', agent, started);
          outcomes.push(o);
          if (o.error === 'ECONNREFUSED') return;
        }
      } finally {
        agent.destroy();
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, client));
    // The upstream dies once the load runs on every connection (not after a fixed sleep).
    await until(() => outcomes.length >= CLIENTS, 5000, 'the load to run on every connection');
    const exitAtMs = performance.now() - started;
    const bye = await call(wd.url, '/exit?code=3', new Agent(), started);
    expect(bye.status).toBe(200);
    const code = await withTimeout(wd.exited, 3000, 'the watchdog to exit after its upstream died');
    const exitedAfterMs = performance.now() - started - exitAtMs;
    await withTimeout(load, 3000, 'every client to finish');

    const errors = outcomes.filter((o) => o.error !== undefined);
    report('http mode, the upstream exits mid-load', {
      requests: outcomes.length,
      ok: outcomes.filter((o) => o.status === 200).length,
      status502: outcomes.filter((o) => o.status === 502).length,
      status503: outcomes.filter((o) => o.status === 503).length,
      refused: errors.filter((o) => o.error === 'ECONNREFUSED').length,
      otherErrors: errors.filter((o) => o.error !== 'ECONNREFUSED').map((o) => o.error),
      slowestMs: Math.round(Math.max(...outcomes.map((o) => o.tookMs))),
      exitCode: code,
      exitedAfterMs: Math.round(exitedAfterMs),
    });
    expect(code).not.toBe(0);
    expect(wd.stderr).toMatch(/exit status 3/);
    expect(Math.max(...outcomes.map((o) => o.tookMs))).toBeLessThan(3000);
    // Which requests the upstream still held when it died is the watchdog's knowledge, not the client's clock
    // (a loaded machine delays the client): every answer is a full 200 from before the death, a 502, or a 503 after it.
    expect(
      outcomes.filter((o) => o.status !== undefined && ![200, 502, 503].includes(o.status)).map((o) => o.status),
    ).toEqual([]);
    expect(outcomes.filter((o) => o.status === 502).length).toBeGreaterThan(0);
    // Nothing is reset unanswered: a request either gets a status or finds the port closed.
    expect(errors.map((o) => o.error).filter((e) => e !== 'ECONNREFUSED')).toEqual([]);
  });
});
