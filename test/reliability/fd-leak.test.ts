// Many fork requests with clients that abort mid-request: no fd, child or zombie is left behind.
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { fdCount, report } from './support.js';
import { childrenOf, until } from '../helpers/process.js';

const REQUESTS = Number(process.env.RELIABILITY_FD_REQUESTS ?? 600);
const CONCURRENCY = 10;

/** One request; an aborting client sends half its body, waits for the answer to start (or 20 ms), then vanishes. */
function oneRequest(url: string, abort: boolean): Promise<'ok' | 'aborted' | 'failed'> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'Content-Length': '64' } }, (res) => {
      if (abort) {
        req.destroy();
        resolve('aborted');
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(res.statusCode === 200 && Buffer.concat(chunks).length === 64 ? 'ok' : 'failed'));
      res.on('error', () => resolve('failed'));
    });
    req.on('error', () => resolve(abort ? 'aborted' : 'failed'));
    if (abort) {
      req.write('x'.repeat(32));
      setTimeout(() => {
        req.destroy();
        resolve('aborted');
      }, 20);
    } else {
      req.end('x'.repeat(64));
    }
  });
}

describe('fork requests with aborting clients', () => {
  it(`returns to the fd baseline with no child or zombie left after ${REQUESTS} requests, every 5th aborted mid-request`, {
    timeout: 150_000,
  }, async () => {
    const wd = await startWatchdog({ fprocess: 'cat' });
    // Warm up once so lazily opened fds (pipes, timers) are part of the baseline.
    await oneRequest(wd.url, false);
    await new Promise((r) => setTimeout(r, 50));
    const baseline = fdCount('self');
    const outcomes: Record<string, number> = { ok: 0, aborted: 0, failed: 0 };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const i = next++;
        const outcome = await oneRequest(wd.url, i % 5 === 4);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    };
    await withTimeout(Promise.all(Array.from({ length: CONCURRENCY }, worker)), 120_000, `${REQUESTS} requests`);
    expect(outcomes.failed).toBe(0);
    expect(outcomes.aborted).toBe(REQUESTS / 5);
    await until(() => childrenOf(process.pid).length === 0, 3000, 'every function process (and zombie) to be gone');
    await until(() => wd.watchdog.inFlight === 0, 3000, 'no request in flight');
    await until(() => Math.abs(fdCount('self') - baseline) <= 5, 3000, `fds back to the baseline of ${baseline}`);
    report(`${REQUESTS} fork requests, every 5th client aborts mid-request`, {
      ...outcomes,
      fdBaseline: baseline,
      fdAfter: fdCount('self'),
      children: childrenOf(process.pid).length,
    });
    expect(Math.abs(fdCount('self') - baseline)).toBeLessThanOrEqual(5);
  });
});
