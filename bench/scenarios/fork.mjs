// fork: fprocess=cat, 10 connections, a 5-byte POST, in classic, streaming and serializing mode.
// Baseline: a plain node:http server that spawns cat per request (bench/servers/node-spawn.mjs).
// Each server's RSS: idle once started, and its peak (VmHWM) under the load.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { alternate, combineRates } from '../lib/alternate.mjs';
import { hammer } from '../lib/load.mjs';
import { ROOT, bundleWatchdog, memoryMb, startForkBaseline, startWatchdog } from '../lib/processes.mjs';

const MODES = ['classic', 'streaming', 'serializing'];
const CONNECTIONS = 10;
const BODY = 'hello';

/** The fork scenario: req/s, p50 and p99 per fork mode, beside the plain Node spawn server. */
export const fork = {
  name: 'fork',
  metric: 'reqPerSec',
  async run(ctx) {
    const rows = [];
    const rounds = ctx.rounds;
    let spawnPath;
    for (const mode of MODES) {
      const targets = [
        'baseline',
        'fwatchdog',
        ...(ctx.spawnFallback ? ['fwatchdog (child_process)'] : []),
        ...(ctx.ref ? ['ref'] : []),
      ];
      const segS = ctx.segmentSeconds(MODES.length * targets.length * rounds);
      const started = new Map();
      const idle = new Map();
      const env = { mode, fprocess: 'cat' };
      const results = await alternate(targets, rounds, async (target, round) => {
        if (!started.has(target)) {
          started.set(target, await start(target, ctx, env));
          idle.set(target, memoryMb(started.get(target).pid)?.rssMb);
        }
        const proc = started.get(target);
        // Which way fwatchdog starts functions (posix_spawn addon or child_process), from its start-up log.
        if (target === 'fwatchdog') spawnPath ??= /Starting functions with ([^"\n]*)/.exec(proc.logHead())?.[1];
        if (round === 0 && ctx.warmupSeconds() > 0)
          await hammer(proc.port, ctx.warmupSeconds(), { connections: CONNECTIONS, method: 'POST', body: BODY });
        return hammer(proc.port, segS, { connections: CONNECTIONS, method: 'POST', body: BODY });
      });
      const peak = new Map([...started].map(([target, p]) => [target, memoryMb(p.pid)?.peakRssMb]));
      await Promise.all([...started.values()].map((p) => p.stop()));
      for (const target of targets)
        rows.push({
          scenario: 'fork',
          case: `${mode} cat POST 5 B, ${CONNECTIONS} conns`,
          target,
          ...combineRates(results.get(target)),
          peakRssMb: peak.get(target),
          idleRssMb: idle.get(target),
          ...(target === 'fwatchdog' && spawnPath ? { spawnPath } : {}),
        });
    }
    return rows;
  },
};

async function start(target, ctx, env) {
  if (target === 'baseline') return startForkBaseline();
  if (target === 'fwatchdog (child_process)') {
    // The bundle with the spawn addon made unloadable: the path taken where it was not built.
    const exe = bundleWatchdog();
    return startWatchdog(
      target,
      { ...exe, args: ['--import', pathToFileURL(join(ROOT, 'bench', 'lib', 'no-spawn-addon.mjs')).href, ...exe.args] },
      env,
    );
  }
  return startWatchdog(target, target === 'ref' ? ctx.ref : ctx.exe, env);
}
