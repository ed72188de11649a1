// http and http-stream: mode=http in front of a minimal node:http upstream, against that upstream hit directly.
// RSS: the watchdog's own (its upstream not counted) beside the upstream's, idle once started and the
// peak (VmHWM) at the end of the scenario.
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { alternate, combineRates } from '../lib/alternate.mjs';
import { hammer, transfer } from '../lib/load.mjs';
import { readFileSync } from 'node:fs';
import { ROOT, freePort, memoryMb, startWatchdog, waitFor200 } from '../lib/processes.mjs';
import { spansReceived, startReceiver } from '../lib/tracing.mjs';

const CONNECTIONS = 50;
const CASES = [
  { name: `GET, ${CONNECTIONS} conns`, method: 'GET' },
  {
    name: `POST 1 KiB, ${CONNECTIONS} conns`,
    method: 'POST',
    body: Buffer.alloc(1024, 'x'),
    headers: { 'Content-Type': 'application/octet-stream' },
  },
];

/** Starts a watchdog in http mode with its own upstream; `proc.upstreamPort` is that upstream. */
async function startHttpWatchdog(name, exe, extraEnv = {}) {
  const upstreamPort = await freePort();
  const upstream = join(ROOT, 'bench', 'servers', 'upstream.mjs');
  const proc = await startWatchdog(name, exe, {
    mode: 'http',
    fprocess: `${process.execPath} ${upstream} ${upstreamPort}`,
    upstream_url: `http://127.0.0.1:${upstreamPort}`,
    exec_timeout: '60s',
    read_timeout: '60s',
    write_timeout: '60s',
    ...extraEnv,
  });
  // The Go of-watchdog says healthy before its upstream listens (Q8): wait for a real answer.
  await waitFor200(proc, proc.port, '/');
  await waitFor200(proc, upstreamPort, '/');
  proc.upstreamPort = upstreamPort;
  proc.upstreamPid = childPids(proc.pid)[0];
  proc.idle = {
    fwatchdog: memoryMb(proc.pid)?.rssMb,
    baseline: proc.upstreamPid === undefined ? undefined : memoryMb(proc.upstreamPid)?.rssMb,
  };
  return proc;
}

/** The pids of a process's children (Linux), oldest first. */
function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Not Linux: no memory figures for the upstream.
    return [];
  }
}

/** RSS fields for `target`'s row: the watchdog's own, or (baseline) its upstream's. */
function rssOf(procs, target) {
  const wd = procs.fwatchdog;
  if (target === 'traced')
    return { peakRssMb: memoryMb(procs.traced.pid)?.peakRssMb, idleRssMb: procs.traced.idle.fwatchdog };
  const pid = target === 'baseline' ? wd.upstreamPid : target === 'fwatchdog' ? wd.pid : undefined;
  if (pid === undefined) return {};
  return { peakRssMb: memoryMb(pid)?.peakRssMb, idleRssMb: wd.idle[target] };
}

/** Starts ours (and the reference) once per scenario; the baseline is our upstream hit directly. */
async function startAll(ctx) {
  const procs = { fwatchdog: await startHttpWatchdog('fwatchdog', ctx.exe) };
  if (ctx.tracing) {
    procs.receiver = await startReceiver();
    procs.traced = await startHttpWatchdog('fwatchdog traced', ctx.exe, procs.receiver.env);
  }
  if (ctx.ref) {
    try {
      procs.ref = await startHttpWatchdog('ref', ctx.ref);
    } catch (err) {
      procs.refError = err.message;
    }
  }
  return procs;
}

function portOf(procs, target) {
  if (target === 'baseline') return procs.fwatchdog.upstreamPort;
  if (procs[target] === undefined) throw new Error(procs.refError ?? `${target} did not start`);
  return procs[target].port;
}

async function stopAll(procs) {
  await Promise.all([procs.fwatchdog, procs.ref, procs.traced, procs.receiver].filter(Boolean).map((p) => p.stop()));
}

/** The http scenario: req/s, p50 and p99 for GET and a 1 KiB POST through mode=http, beside the upstream hit directly. */
export const http = {
  name: 'http',
  metric: 'reqPerSec',
  async run(ctx) {
    const targets = ['baseline', 'fwatchdog', ...(ctx.tracing ? ['traced'] : []), ...(ctx.ref ? ['ref'] : [])];
    const rounds = ctx.rounds;
    const segS = ctx.segmentSeconds(CASES.length * targets.length * rounds);
    const procs = await startAll(ctx);
    const rows = [];
    try {
      for (const c of CASES) {
        const opts = { connections: CONNECTIONS, method: c.method, body: c.body, headers: c.headers };
        const results = await alternate(targets, rounds, async (target, round) => {
          const port = portOf(procs, target);
          if (round === 0 && ctx.warmupSeconds() > 0) await hammer(port, ctx.warmupSeconds(), opts);
          return hammer(port, segS, opts);
        });
        for (const target of targets)
          rows.push({
            scenario: 'http',
            case: c.name,
            target,
            ...(target === 'traced' ? { label: 'fwatchdog, tracing on' } : {}),
            ...combineRates(results.get(target)),
          });
      }
      if (procs.receiver)
        for (const r of rows) if (r.target === 'traced') r.spansReceived = await spansReceived(procs.receiver);
      // The peaks at the end: after both cases.
      for (const r of rows) if (r.case === CASES[CASES.length - 1].name) Object.assign(r, rssOf(procs, r.target));
    } finally {
      await stopAll(procs);
    }
    return rows;
  },
};

/** The http-stream scenario: MB/s of 64 MiB responses through mode=http, beside the upstream hit directly. */
export const httpStream = {
  name: 'http-stream',
  metric: 'mbPerSec',
  async run(ctx) {
    const targets = ['baseline', 'fwatchdog', ...(ctx.ref ? ['ref'] : [])];
    const rounds = ctx.rounds;
    const segS = ctx.segmentSeconds(targets.length * rounds);
    const procs = await startAll(ctx);
    try {
      const results = await alternate(targets, rounds, async (target) => {
        const port = portOf(procs, target);
        // Whole 64 MiB responses, one after another, for the segment's length.
        let bytes = 0;
        let seconds = 0;
        let errors = 0;
        const until = performance.now() + segS * 1000;
        do {
          const r = await transfer(port, { path: '/big' });
          if (r.status !== 200 || r.bytes !== 64 << 20) errors++;
          bytes += r.bytes;
          seconds += r.seconds;
        } while (performance.now() < until);
        return { bytes, seconds, errors };
      });
      return targets.map((target) => ({
        scenario: 'http-stream',
        case: 'GET 64 MiB response',
        target,
        ...combineTransfers(results.get(target)),
        ...rssOf(procs, target),
      }));
    } finally {
      await stopAll(procs);
    }
  },
};

/** MB/s over all transfers of a target. */
export function combineTransfers(segments) {
  const ok = segments.filter((s) => s.error === undefined);
  const error = segments.find((s) => s.error !== undefined)?.error;
  if (ok.length === 0) return { error: error ?? 'no measurement' };
  const bytes = ok.reduce((a, s) => a + s.bytes, 0);
  const seconds = ok.reduce((a, s) => a + s.seconds, 0);
  return {
    mbPerSec: bytes / (1 << 20) / seconds,
    errors: ok.reduce((a, s) => a + s.errors, 0),
    bytes,
    seconds,
    ...(error ? { error } : {}),
  };
}
