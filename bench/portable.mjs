// The portable folder (dist/portable, /opt/fwatchdog in the image) next to the single file (dist/fwatchdog):
// start-to-ready (exec -> first 200 on /_/ready) and the CPU time it took, idle memory, `--run-healthcheck` time, size and gzipped size.
// Both run on this (glibc) machine, in alternating rounds so they see the same load.
// Usage: npm run build:binary && node bench/portable.mjs [rounds]
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { alternate, median } from './lib/alternate.mjs';
import { ROOT, freePort, killAll, memoryMb, startProcess, waitFor200 } from './lib/processes.mjs';

const rounds = Number(process.argv[2] ?? 15);
const targets = {
  'single file': join(ROOT, 'dist', 'fwatchdog'),
  portable: join(ROOT, 'dist', 'portable', 'fwatchdog'),
};
for (const file of Object.values(targets))
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build:binary`);

/** Every file under `path` (a file or a folder), hard links counted once. */
function files(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((e) => files(join(path, e.name)));
}
function sizes(path) {
  const all = files(path);
  const bytes = all.reduce((a, f) => a + statSync(f).size, 0);
  const gzipped = all.reduce((a, f) => a + gzipSync(readFileSync(f), { level: 6 }).length, 0);
  return { mb: bytes / 1e6, gzMb: gzipped / 1e6 };
}

/** CPU time (user + system) a process has used, in ms (10 ms ticks: compare medians, not single runs). */
function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

const names = Object.keys(targets);
const results = await alternate(names, rounds, async (name) => {
  const port = await freePort();
  const proc = startProcess(name, targets[name], [], {
    port: String(port),
    metrics_port: '0',
    healthcheck_interval: '1ms',
    mode: 'streaming',
    fprocess: 'cat',
  });
  let ms;
  let cpuMs;
  let mem;
  try {
    await waitFor200(proc, port, '/_/ready', 10_000, 1);
    ms = Number(process.hrtime.bigint() - proc.startedAt) / 1e6;
    cpuMs = cpuMsOf(proc.pid);
    await sleep(300);
    mem = memoryMb(proc.pid);
  } finally {
    await proc.stop();
  }
  // The HEALTHCHECK command: a whole start of the binary that only looks for the lock file.
  const t0 = performance.now();
  try {
    execFileSync(targets[name], ['--run-healthcheck'], { stdio: 'ignore', env: { TMPDIR: '/nonexistent' } });
  } catch {
    // Exit code 1 (no lock file) is the expected answer here; only the time counts.
  }
  const healthMs = performance.now() - t0;
  return { ms, cpuMs, healthMs, rssMb: mem?.rssMb ?? 0, anonMb: mem?.anonMb ?? 0 };
});

const size = { 'single file': sizes(targets['single file']), portable: sizes(join(ROOT, 'dist', 'portable')) };
console.log(
  `${'target'.padEnd(12)} ${'start-to-ready'.padStart(15)} ${'CPU to ready'.padStart(13)} ${'--run-healthcheck'.padStart(18)} ${'RSS'.padStart(9)} ${'anon'.padStart(9)} ${'size'.padStart(9)} ${'gzipped'.padStart(9)}`,
);
for (const name of names) {
  const ok = results.get(name).filter((r) => r.error === undefined);
  if (ok.length === 0) {
    console.log(`${name.padEnd(12)} error: ${results.get(name)[0]?.error}`);
    continue;
  }
  const m = (k) => median(ok.map((r) => r[k]));
  console.log(
    `${name.padEnd(12)} ${`${m('ms').toFixed(1)} ms`.padStart(15)} ${`${m('cpuMs').toFixed(0)} ms`.padStart(13)} ${`${m('healthMs').toFixed(1)} ms`.padStart(18)} ${`${m('rssMb').toFixed(1)} MB`.padStart(9)} ${`${m('anonMb').toFixed(1)} MB`.padStart(9)} ${`${size[name].mb.toFixed(1)} MB`.padStart(9)} ${`${size[name].gzMb.toFixed(1)} MB`.padStart(9)}`,
  );
}
console.log(
  `medians of ${rounds} alternating rounds; size of the portable folder counts fwatchdog-bin (the same bytes as the single file) once`,
);
