// startup: time from exec to the first 200 on /_/ready (median of N), and RSS (and its anonymous part) once idle.
// Targets: the single-file binary (when built), `node dist/fwatchdog.cjs`, and as baseline a bare
// node:http server (bench/servers/upstream.mjs), which is the floor any Node program pays.
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { alternate, median } from '../lib/alternate.mjs';
import { ROOT, bundleWatchdog, freePort, memoryMb, startProcess, waitFor200 } from '../lib/processes.mjs';

const IDLE_SETTLE_MS = 300;

/** The startup scenario: median exec-to-ready time and idle memory. */
export const startup = {
  name: 'startup',
  metric: 'startupMs',
  lowerIsBetter: true,
  async run(ctx) {
    const targets = {
      baseline: { command: process.execPath, args: [join(ROOT, 'bench', 'servers', 'upstream.mjs')], bare: true },
      // The binary only when the suite picked it (it exists and is not older than the bundle).
      ...(ctx.exe.args.length === 0 ? { fwatchdog: ctx.exe } : {}),
      'fwatchdog (node)': bundleWatchdog(),
      ...(ctx.ref ? { ref: ctx.ref } : {}),
    };
    const names = Object.keys(targets);
    const results = await alternate(names, ctx.startupRuns, async (name) => {
      const exe = targets[name];
      const port = await freePort();
      const env = exe.bare ? { PORT: String(port) } : { port: String(port), metrics_port: '0', healthcheck_interval: '1ms', mode: 'streaming', fprocess: 'cat' };
      const proc = startProcess(name, exe.command, exe.args, env);
      try {
        // Poll every 1 ms: the figure is exec -> first 200, so the poll must not add much.
        await waitFor200(proc, port, '/_/ready', 10_000, 1);
        const ms = Number(process.hrtime.bigint() - proc.startedAt) / 1e6;
        await sleep(IDLE_SETTLE_MS);
        const mem = memoryMb(proc.pid);
        return { ms, rssMb: mem?.rssMb, anonMb: mem?.anonMb };
      } finally {
        await proc.stop();
      }
    });
    return names.map((name) => {
      const runs = results.get(name).filter((r) => r.error === undefined);
      const error = results.get(name).find((r) => r.error !== undefined)?.error;
      const label = name === 'fwatchdog (node)' ? 'fwatchdog' : name;
      const caseName = name === 'fwatchdog (node)' ? 'node dist/fwatchdog.cjs' : name === 'fwatchdog' ? 'dist/fwatchdog binary' : name === 'baseline' ? 'bare node:http server' : 'reference binary';
      if (runs.length === 0) return { scenario: 'startup', case: caseName, target: label, error: error ?? 'no run' };
      return {
        scenario: 'startup',
        case: `${caseName}, median of ${runs.length}`,
        target: label,
        startupMs: median(runs.map((r) => r.ms)),
        rssMb: median(runs.map((r) => r.rssMb ?? 0)),
        anonMb: median(runs.map((r) => r.anonMb ?? 0)),
        errors: results.get(name).length - runs.length,
        ...(error ? { error } : {}),
      };
    });
  },
};
