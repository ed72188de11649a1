// Memory after a load (the built binary): a bounded load grows V8's young generation to its 2 x 16 MiB
// semi-spaces (RSS about +45 MB on cat), and V8 kept them for as long as the process lived. Once the
// load is over the watchdog collects with a memory-reducing GC (src/main.ts, startIdleReclaim):
// RSS must come back within 10 MB of idle, within a short settle.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary } from '../helpers/binary.js';
import { makeTmpDir } from '../helpers/watchdog.js';
import { memoryKiB, report } from './support.js';

interface LoadResult {
  errors: number;
  non2xx: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: Record<string, unknown>,
) => Promise<LoadResult>;

beforeAll(() => ensureBinary(), 120_000);

const REQUESTS = 2000;
/** The idle reclaim collects 0.5 to 1 s after the last request; this leaves room on a busy machine. */
const SETTLE_MS = 2500;
const BOUND_MB = 10;

const rssMb = (pid: number): number => memoryKiB(pid).rss / 1024;
/** The anonymous part of RSS (the heaps; the rest is the binary's own pages, shared with the page cache). */
const anonMb = (pid: number): number =>
  Number(/^RssAnon:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

describe('memory after a load', () => {
  for (const mode of ['streaming', 'serializing'] as const) {
    it(`${mode}: RSS returns within ${BOUND_MB} MB of idle ${SETTLE_MS} ms after ${REQUESTS} requests on cat`, async () => {
      const wd = await startBinary({
        mode,
        fprocess: 'cat',
        TMPDIR: makeTmpDir(),
        healthcheck_interval: '0',
        PATH: process.env.PATH ?? '/usr/bin:/bin',
      });
      await wd.waitReady();
      const pid = wd.child.pid as number;
      // Idle as a replica that has served: a few requests touch the binary's code for the request path.
      await autocannon({ url: wd.url, method: 'POST', body: 'hello', connections: 2, amount: 20 });
      await new Promise((r) => setTimeout(r, 1200));
      const idle = rssMb(pid);
      const idleAnon = anonMb(pid);
      const result = await autocannon({
        url: wd.url,
        method: 'POST',
        body: 'hello',
        connections: 20,
        amount: REQUESTS,
      });
      expect(result.errors + result.non2xx).toBe(0);
      const loaded = rssMb(pid);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const settled = rssMb(pid);
      const settledAnon = anonMb(pid);
      const figures = {
        idleMb: Math.round(idle),
        afterLoadMb: Math.round(loaded),
        settledMb: Math.round(settled),
        idleAnonMb: Math.round(idleAnon),
        settledAnonMb: Math.round(settledAnon),
      };
      report(`rss after load (${mode})`, figures);
      expect(settled - idle, JSON.stringify(figures)).toBeLessThan(BOUND_MB);
      expect(settledAnon - idleAnon, JSON.stringify(figures)).toBeLessThan(BOUND_MB / 2);
    }, 120_000);
  }
});
