// max_inflight=5 under 40 concurrent slow requests: never more than 5 processes, the rest 429 at once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { send } from '../helpers/http.js';
import { childrenOf, until } from '../helpers/process.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { report } from './support.js';

describe('max_inflight under a burst', () => {
  it('never runs more than 5 function processes and answers the other 35 with 429 while the 5 still run', async () => {
    const gate = join(makeTmpDir(), 'gate');
    const wd = await startWatchdog({ fprocess: fixture('wait-for-gate'), max_inflight: '5', GATE_FILE: gate });
    let maxChildren = 0;
    const sampler = setInterval(() => {
      maxChildren = Math.max(maxChildren, childrenOf(process.pid).length);
    }, 5);
    onTestFinished(() => clearInterval(sampler));
    let limitedCount = 0;
    const all = Array.from({ length: 40 }, () =>
      send(wd.url, { method: 'POST', body: 'x' }).then((r) => {
        if (r.status === 429) limitedCount++;
        return r;
      }),
    );
    // "At once": all 35 are refused while the 5 admitted calls are still held at the gate.
    await until(() => limitedCount === 35, 5000, '35 answers 429 while 5 calls run');
    expect(wd.watchdog.inFlight).toBe(5);
    writeFileSync(gate, '');
    const results = await withTimeout(Promise.all(all), 5000, '40 requests');
    clearInterval(sampler);
    const statuses = results.map((r) => r.status);
    report('max_inflight=5 with 40 concurrent slow requests', {
      maxChildren,
      ok: statuses.filter((s) => s === 200).length,
      tooMany: statuses.filter((s) => s === 429).length,
    });
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(35);
    expect(maxChildren).toBeGreaterThan(0);
    expect(maxChildren).toBeLessThanOrEqual(5);
    const limited = results.find((r) => r.status === 429);
    expect(limited?.text).toBe('Concurrent request limit exceeded. Max concurrent requests: 5\n');
    // Once the burst is over, capacity is back.
    expect((await send(wd.url, { method: 'POST', body: 'x' })).status).toBe(200);
  });
});
