// max_inflight=5 under 40 concurrent slow requests (2 s each, so a loaded machine still gets all 40 in before one ends): never more than 5 processes, the rest 429 at once.
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { childrenOf, report } from './support.js';

describe('max_inflight under a burst', () => {
  it('never runs more than 5 function processes and answers the other 35 with 429 before any slow one ends', async () => {
    const wd = await startWatchdog({ fprocess: `${fixture('sleep-then-echo')} 2`, max_inflight: '5' });
    let maxChildren = 0;
    const sampler = setInterval(() => {
      maxChildren = Math.max(maxChildren, childrenOf(process.pid).length);
    }, 5);
    const order: number[] = [];
    const all = Array.from({ length: 40 }, () =>
      send(wd.url, { method: 'POST', body: 'x' }).then((r) => {
        order.push(r.status);
        return r;
      }),
    );
    const results = await withTimeout(Promise.all(all), 10_000, '40 requests');
    clearInterval(sampler);
    const statuses = results.map((r) => r.status);
    report('max_inflight=5 with 40 concurrent slow requests', { maxChildren, ok: statuses.filter((s) => s === 200).length, tooMany: statuses.filter((s) => s === 429).length });
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(35);
    expect(maxChildren).toBeGreaterThan(0);
    expect(maxChildren).toBeLessThanOrEqual(5);
    // "At once": every 429 arrived before the first slow request finished.
    expect(order.slice(0, 35).every((s) => s === 429)).toBe(true);
    const limited = results.find((r) => r.status === 429);
    expect(limited?.text).toBe('Concurrent request limit exceeded. Max concurrent requests: 5\n');
    // Once the burst is over, capacity is back.
    expect((await send(wd.url, { method: 'POST', body: 'x' })).status).toBe(200);
  });
});
