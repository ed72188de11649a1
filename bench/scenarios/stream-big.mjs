// stream-big: one 256 MiB POST through streaming mode with cat: MB/s and the server's peak RSS (VmHWM),
// next to its idle RSS at start and after one small request (what a replica that has served sits at:
// the first request compiles its code paths). Baseline: the plain node:http + spawn(cat) server
// (bench/servers/node-spawn.mjs).
// Also, as the ceiling, the bare `cat` pipe: the same bytes written into cat and read back, no HTTP.
import { setTimeout as sleep } from 'node:timers/promises';
import { alternate } from '../lib/alternate.mjs';
import { catPipe, transfer } from '../lib/load.mjs';
import { memoryMb, startForkBaseline, startWatchdog } from '../lib/processes.mjs';
import { combineTransfers } from './http.mjs';

/** The small request before the measured ones, and the pause before its RSS is read. */
const WARM_UP_BYTES = 1 << 20;
const SETTLE_MS = 300;

/** The stream-big scenario: MB/s of one big POST through streaming cat and the peak RSS. */
export const streamBig = {
  name: 'stream-big',
  metric: 'mbPerSec',
  async run(ctx) {
    const uploadBytes = ctx.streamMib << 20;
    const targets = ['cat pipe', 'baseline', 'fwatchdog', ...(ctx.ref ? ['ref'] : [])];
    const rounds = ctx.rounds;
    const env = {
      mode: 'streaming',
      fprocess: 'cat',
      exec_timeout: '120s',
      read_timeout: '120s',
      write_timeout: '120s',
    };
    const procs = new Map();
    try {
      const idle = new Map();
      const warm = new Map();
      const results = await alternate(targets, rounds, async (target) => {
        if (target === 'cat pipe') {
          const r = await catPipe(uploadBytes);
          return { bytes: uploadBytes, seconds: r.seconds, errors: r.bytes === uploadBytes ? 0 : 1 };
        }
        if (!procs.has(target)) {
          const proc = await start(target, ctx, env);
          procs.set(target, proc);
          idle.set(target, memoryMb(proc.pid)?.rssMb);
          await transfer(proc.port, { method: 'POST', uploadBytes: WARM_UP_BYTES });
          await sleep(SETTLE_MS);
          warm.set(target, memoryMb(proc.pid)?.rssMb);
        }
        const proc = procs.get(target);
        const r = await transfer(proc.port, { method: 'POST', uploadBytes });
        return { bytes: uploadBytes, seconds: r.seconds, errors: r.status === 200 && r.bytes === uploadBytes ? 0 : 1 };
      });
      return targets.map((target) => {
        if (target === 'cat pipe')
          return {
            scenario: 'stream-big',
            case: `${ctx.streamMib} MiB through a bare cat pipe (no HTTP)`,
            target: 'cat pipe',
            ...combineTransfers(results.get(target)),
          };
        const mem = procs.has(target) ? memoryMb(procs.get(target).pid) : undefined;
        return {
          scenario: 'stream-big',
          case: `POST ${ctx.streamMib} MiB through cat`,
          target,
          ...combineTransfers(results.get(target)),
          peakRssMb: mem?.peakRssMb,
          idleRssMb: idle.get(target),
          warmRssMb: warm.get(target),
        };
      });
    } finally {
      await Promise.all([...procs.values()].map((p) => p.stop()));
    }
  },
};

async function start(target, ctx, env) {
  if (target === 'baseline') return startForkBaseline();
  return startWatchdog(target, target === 'ref' ? ctx.ref : ctx.exe, env);
}
