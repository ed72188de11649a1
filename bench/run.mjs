// The benchmark suite: runs the scenarios, prints one table and writes it as JSON.
// Usage: npm run bench [-- <scenario>...]  (scenarios: http, http-stream, inproc, fork, stream-big, startup, rss-after-load, cold-listen) [--duration <s>] [--out <file>] [--startup-runs <n>] [--stream-mib <n>] [--spawn-fallback] [--tracing]
// --tracing: http and inproc also run fwatchdog exporting a span per request to a local OTLP receiver, beside it untraced.
// Env: BENCH_DURATION (seconds per scenario, default 20), REF_WATCHDOG (another watchdog binary to compare with).
import console from 'node:console';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { ROOT, killAll, ourWatchdog } from './lib/processes.mjs';
import { fork } from './scenarios/fork.mjs';
import { http, httpStream } from './scenarios/http.mjs';
import { inproc } from './scenarios/inproc.mjs';
import { rssAfterLoad } from './scenarios/rss-after-load.mjs';
import { startup } from './scenarios/startup.mjs';
import { streamBig } from './scenarios/stream-big.mjs';
import { coldListen } from './scenarios/cold-listen.mjs';

const SCENARIOS = [http, httpStream, inproc, fork, streamBig, startup, rssAfterLoad, coldListen];

function usage(message) {
  console.error(
    `${message}\nusage: npm run bench -- [${SCENARIOS.map((s) => s.name).join('|')}]... [--duration <s>] [--out <file>] [--startup-runs <n>] [--stream-mib <n>] [--spawn-fallback] [--tracing]`,
  );
  process.exit(2);
}

function positiveNumber(text, what) {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) usage(`${what} must be a positive number, got ${JSON.stringify(text)}`);
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      duration: { type: 'string' },
      out: { type: 'string' },
      'startup-runs': { type: 'string' },
      'stream-mib': { type: 'string' },
      'spawn-fallback': { type: 'boolean' },
      tracing: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  usage(err.message);
}
if (parsed.values.help) usage('fwatchdog benchmark suite');
const chosen =
  parsed.positionals.length === 0
    ? SCENARIOS
    : parsed.positionals.map(
        (name) => SCENARIOS.find((s) => s.name === name) ?? usage(`unknown scenario ${JSON.stringify(name)}`),
      );
const durationS = positiveNumber(parsed.values.duration ?? process.env.BENCH_DURATION ?? '20', '--duration');
const outFile = resolve(parsed.values.out ?? join(ROOT, 'bench', 'results', 'latest.json'));
const startupRuns = Math.round(positiveNumber(parsed.values['startup-runs'] ?? '10', '--startup-runs'));
const streamMib = Math.round(positiveNumber(parsed.values['stream-mib'] ?? '256', '--stream-mib'));

const exe = ourWatchdog();
if (!existsSync(exe.args[0] ?? exe.command)) usage(`${exe.args[0] ?? exe.command} is missing: run npm run build first`);
let ref;
if (process.env.REF_WATCHDOG) {
  const path = resolve(process.env.REF_WATCHDOG);
  if (!existsSync(path)) usage(`REF_WATCHDOG=${path} does not exist`);
  ref = { label: path, command: path, args: [] };
}

const ctx = {
  exe,
  ref,
  startupRuns,
  streamMib,
  /** fork: also measure the bundle with the spawn addon unloadable (child_process.spawn). */
  spawnFallback: parsed.values['spawn-fallback'] === true,
  /** http, inproc: also fwatchdog with tracing on (OTLP export to a local receiver). */
  tracing: parsed.values.tracing === true,
  /** Alternating rounds per target: 2 by default, 1 for short smoke runs. */
  rounds: durationS >= 8 ? 2 : 1,
  /** Seconds per measured segment (a multiple of 0.5, at least 0.5) when a scenario's budget is split into `count` segments plus warm-ups. */
  segmentSeconds: (count) => Math.max(0.5, Math.floor((2 * durationS) / (count * 1.15)) / 2),
  /** The unmeasured warm-up before a target's first segment (none in short smoke runs). */
  warmupSeconds: () => (durationS >= 8 ? 1 : 0),
};

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

const cpu = cpus();
const machine = {
  cpus: cpu.length,
  cpuModel: cpu[0]?.model ?? 'unknown',
  memoryGb: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  node: process.version,
  loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
};
console.log(
  `fwatchdog bench: ${exe.label}${ref ? `, reference ${ref.label}` : ''}; ${machine.cpus} x ${machine.cpuModel}, load ${machine.loadAverageAtStart.join(' ')}; ${durationS} s per scenario`,
);

const rows = [];
let failed = false;
for (const scenario of chosen) {
  const t0 = Date.now();
  process.stdout.write(`  ${scenario.name} ... `);
  let scenarioRows;
  try {
    scenarioRows = await scenario.run(ctx);
  } catch (err) {
    scenarioRows = [
      {
        scenario: scenario.name,
        case: '-',
        target: 'fwatchdog',
        error: err instanceof Error ? err.message : String(err),
      },
    ];
  } finally {
    killAll();
  }
  addRatios(scenario, scenarioRows);
  for (const r of scenarioRows) if (r.error !== undefined && r.target !== 'ref') failed = true;
  rows.push(...scenarioRows);
  console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Adds `ratio` (to the baseline of the same case) and `refRatio` (ours to the reference). */
function addRatios(scenario, list) {
  const key = scenario.metric;
  const byCase = (target, c) => list.find((r) => r.target === target && r.case === c && r[key] !== undefined);
  for (const r of list) {
    r.metric = key;
    if (r[key] === undefined) continue;
    const base =
      scenario.name === 'startup'
        ? list.find((b) => b.target === 'baseline' && b.baseKey === r.baseKey && b[key] !== undefined)
        : byCase('baseline', r.case);
    // A scenario may give its own ratio (inproc: the median of its paired rounds).
    if (base && r.target !== 'baseline' && r.ratio === undefined) r.ratio = r[key] / base[key];
    if (r.target === 'fwatchdog') {
      const refRow =
        scenario.name === 'startup'
          ? list.find((b) => b.target === 'ref' && b[key] !== undefined)
          : byCase('ref', r.case);
      if (refRow) r.refRatio = r[key] / refRow[key];
    }
  }
}

const UNITS = {
  reqPerSec: 'req/s',
  mbPerSec: 'MB/s',
  startupMs: 'ms',
  listenMs: 'ms to listen',
  settledRssMb: 'MB settled',
};
const fmt = (n, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? ''
    : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const cpuColumn = rows.some((r) => r.cpuUsPerReq !== undefined);
const withCpu = rows.some((r) => r.cpuMs !== undefined);
const table = [
  [
    'scenario',
    'case',
    'target',
    'result',
    ...(withCpu ? ['CPU ms'] : []),
    'p50 ms',
    'p99 ms',
    ...(cpuColumn ? ['CPU µs/req'] : []),
    'errors',
    'RSS MB',
    'x baseline',
    'x ref',
  ],
];
for (const r of rows) {
  const value = r[r.metric];
  const rss =
    r.peakRssMb !== undefined
      ? `${fmt(r.peakRssMb)} peak${r.idleRssMb !== undefined ? ` (${fmt(r.idleRssMb)} idle${r.warmRssMb !== undefined ? `, ${fmt(r.warmRssMb)} after 1 request` : ''})` : ''}${r.processes > 1 ? `, ${r.processes} procs` : ''}`
      : r.rssMb !== undefined
        ? `${fmt(r.rssMb)} idle${r.anonMb !== undefined ? ` (${fmt(r.anonMb)} anon)` : ''}`
        : '';
  table.push([
    r.scenario,
    r.case,
    r.label ?? r.target,
    r.error !== undefined && value === undefined
      ? `FAILED: ${r.error
          .split('\n')[0]
          .replace(/ before answering.*$/, '')
          .slice(0, 60)}`
      : `${fmt(value, r.metric === 'startupMs' || r.metric === 'listenMs' ? 1 : 0)} ${UNITS[r.metric] ?? ''}`,
    ...(withCpu ? [fmt(r.cpuMs, 1)] : []),
    fmt(r.p50Ms, 1),
    fmt(r.p99Ms, 1),
    ...(cpuColumn ? [fmt(r.cpuUsPerReq, 0)] : []),
    r.errors === undefined ? '' : String(r.errors),
    rss,
    r.ratio === undefined ? '' : `${fmt(r.ratio, 2)}x`,
    r.refRatio === undefined ? '' : `${fmt(r.refRatio, 2)}x`,
  ]);
}
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
console.log('');
console.log(line(table[0]));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of table.slice(1)) console.log(line(row));
console.log('');
console.log(
  "x baseline / x ref: this row's result divided by the baseline's (or the reference's) in the same run; for startup ms, lower is better.",
);
if (rows.some((r) => r.pairedRounds !== undefined))
  console.log(
    "inproc: x baseline is the median of the rounds' ratios (each round measures both targets back to back), and p50/p99 are the medians of the rounds' figures.",
  );
if (withCpu)
  console.log(
    'CPU ms: CPU time (user + system, all threads) the process had used when it first answered 200; steadier than wall time on a loaded machine.',
  );
const spawnPath = rows.find((r) => r.spawnPath !== undefined)?.spawnPath;
if (spawnPath) console.log(`fork modes: fwatchdog started functions with ${spawnPath}`);

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const report = {
  date: new Date().toISOString(),
  version: pkg.version,
  watchdog: exe.label,
  reference: ref?.label ?? null,
  durationPerScenarioS: durationS,
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  machine: { ...machine, loadAverageAtEnd: loadavg().map((n) => Math.round(n * 100) / 100) },
  rows,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${outFile}`);
process.exit(failed ? 1 : 0);
