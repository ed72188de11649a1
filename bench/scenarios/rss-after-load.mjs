// rss-after-load: the watchdog's RSS idle (after a few requests), right after a load and once settled,
// for every mode. A load grows V8's young generation; the idle reclaim (src/main.ts) gives it back
// 0.5 to 1 s after the last request (docs/performance.md, "Memory after a load").
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { hammer } from '../lib/load.mjs';
import { ROOT, freePort, memoryMb, startWatchdog, waitFor200 } from '../lib/processes.mjs';

const CONNECTIONS = 20;

export const rssAfterLoad = {
  name: 'rss-after-load',
  metric: 'settledRssMb',
  lowerIsBetter: true,
  async run(ctx) {
    // Short smoke runs (--duration under 8): 1 s of load, 2 s to settle.
    const short = ctx.warmupSeconds() === 0;
    const LOAD_S = short ? 1 : 3;
    const SETTLE_MS = short ? 2000 : 3000;
    const dir = mkdtempSync(join(tmpdir(), 'fwd-bench-rss-'));
    writeFileSync(join(dir, 'index.html'), 'OK\n');
    const upstreamPort = await freePort();
    const modes = {
      streaming: { mode: 'streaming', fprocess: 'cat' },
      serializing: { mode: 'serializing', fprocess: 'cat' },
      classic: { mode: 'classic', fprocess: 'cat' },
      http: {
        mode: 'http',
        fprocess: `${process.execPath} ${join(ROOT, 'bench', 'servers', 'upstream.mjs')} ${upstreamPort}`,
        upstream_url: `http://127.0.0.1:${upstreamPort}`,
      },
      static: { mode: 'static', static_path: dir },
      inproc: { mode: 'inproc', fprocess: join(ROOT, 'bench', 'servers', 'inproc-handler.mjs') },
    };
    const rows = [];
    for (const [name, env] of Object.entries(modes)) {
      const row = {
        scenario: 'rss-after-load',
        case: `mode=${name}, POST for ${LOAD_S} s at ${CONNECTIONS} conns`,
        target: 'fwatchdog',
      };
      let proc;
      try {
        proc = await startWatchdog(`fwatchdog ${name}`, ctx.exe, env);
        await waitFor200(proc, proc.port, '/');
        const load = { connections: CONNECTIONS, method: 'POST', body: 'hello' };
        await hammer(proc.port, 0.5, { ...load, connections: 2 }); // idle as a replica that has served
        await sleep(1500);
        const idle = memoryMb(proc.pid);
        const result = await hammer(proc.port, LOAD_S, load);
        const loaded = memoryMb(proc.pid);
        await sleep(SETTLE_MS);
        const settled = memoryMb(proc.pid);
        Object.assign(row, {
          case: `${row.case}: ${Math.round(idle.rssMb)} idle, ${Math.round(loaded.rssMb)} after, ${Math.round(settled.rssMb)} ${SETTLE_MS / 1000} s later (anon ${Math.round(idle.anonMb)} -> ${Math.round(loaded.anonMb)} -> ${Math.round(settled.anonMb)})`,
          settledRssMb: settled.rssMb,
          idleRssMb: idle.rssMb,
          loadedRssMb: loaded.rssMb,
          settledAnonMb: settled.anonMb,
          idleAnonMb: idle.anonMb,
          loadedAnonMb: loaded.anonMb,
          grownMb: settled.rssMb - idle.rssMb,
          requests: result.requests,
          errors: result.errors,
        });
      } catch (err) {
        row.error = err instanceof Error ? err.message : String(err);
      } finally {
        await proc?.stop();
      }
      rows.push(row);
    }
    return rows;
  },
};
