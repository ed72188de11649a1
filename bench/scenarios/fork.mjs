// fork: fprocess=cat, 10 connections, a 5-byte POST, in classic, streaming and serializing mode.
// Baseline: a plain node:http server that spawns cat per request (bench/servers/node-spawn.mjs).
import { alternate, combineRates } from '../lib/alternate.mjs';
import { hammer } from '../lib/load.mjs';
import { startForkBaseline, startWatchdog } from '../lib/processes.mjs';

const MODES = ['classic', 'streaming', 'serializing'];
const CONNECTIONS = 10;
const BODY = 'hello';

export const fork = {
  name: 'fork',
  metric: 'reqPerSec',
  async run(ctx) {
    const rows = [];
    const rounds = ctx.rounds;
    for (const mode of MODES) {
      const targets = ['baseline', 'fwatchdog', ...(ctx.ref ? ['ref'] : [])];
      const segS = ctx.segmentSeconds(MODES.length * targets.length * rounds);
      const started = new Map();
      const env = { mode, fprocess: 'cat' };
      const results = await alternate(targets, rounds, async (target, round) => {
        if (!started.has(target)) started.set(target, await start(target, ctx, env));
        const proc = started.get(target);
        if (round === 0 && ctx.warmupSeconds() > 0) await hammer(proc.port, ctx.warmupSeconds(), { connections: CONNECTIONS, method: 'POST', body: BODY });
        return hammer(proc.port, segS, { connections: CONNECTIONS, method: 'POST', body: BODY });
      });
      await Promise.all([...started.values()].map((p) => p.stop()));
      for (const target of targets) rows.push({ scenario: 'fork', case: `${mode} cat POST 5 B, ${CONNECTIONS} conns`, target, ...combineRates(results.get(target)) });
    }
    return rows;
  },
};

async function start(target, ctx, env) {
  if (target === 'baseline') return startForkBaseline();
  return startWatchdog(target, target === 'ref' ? ctx.ref : ctx.exe, env);
}
