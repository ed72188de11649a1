// Measures dist/fwatchdog: file size, start-to-ready time (exec -> first 200 on /_/ready, median of N) and idle memory.
// Usage: node scripts/measure-binary.mjs [binary] [runs]   (env: MODE=streaming|serializing|classic|http|static, FPROCESS)
import { spawn } from 'node:child_process';
import { readFileSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const binary = process.argv[2] ?? 'dist/fwatchdog';
const runs = Number(process.argv[3] ?? 10);
const mode = process.env.MODE ?? 'streaming';
const fprocess = process.env.FPROCESS ?? 'cat';

function ready(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/_/ready', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** CPU time (user + system) the process has used, in ms (clock ticks of 10 ms: meaningful as a mean). */
function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident memory in KiB: all of it, and the anonymous (private) part, which excludes the binary's shared file pages. */
function memoryKiB(pid) {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN);
  return { rss: field('Rss'), anon: field('Anonymous') };
}

async function once() {
  const tmp = mkdtempSync(join(tmpdir(), 'fwd-measure-'));
  const env = {
    fprocess,
    mode,
    port: '0',
    metrics_port: '0',
    TMPDIR: tmp,
    healthcheck_interval: '0',
    log_format: 'text',
  };
  if (mode === 'static') env.static_path = tmp;
  const t0 = performance.now();
  const child = spawn(binary, [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    // The port (0 = any free one) is read from the `Listening on port: N` line, then /_/ready is polled.
    let stderr = '';
    const port = await new Promise((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (c) => {
        stderr += c;
        const m = /Listening on port: (\d+)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
    });
    const deadline = t0 + 5000;
    while (!(await ready(port))) {
      if (performance.now() > deadline) throw new Error('not ready within 5 s');
      await new Promise((r) => setTimeout(r, 1));
    }
    const startMs = performance.now() - t0;
    const cpuMs = cpuMsOf(child.pid);
    await new Promise((r) => setTimeout(r, 500));
    return { startMs, cpuMs, ...memoryKiB(child.pid) };
  } finally {
    const exited = new Promise((r) => child.once('close', r));
    child.kill('SIGKILL');
    await exited;
    rmSync(tmp, { recursive: true, force: true });
  }
}

const results = [];
for (let i = 0; i < runs; i++) results.push(await once());
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`binary: ${binary} (${(statSync(binary).size / 1e6).toFixed(1)} MB), mode=${mode}, runs=${runs}`);
console.log(
  `start-to-ready: median ${median(results.map((r) => r.startMs)).toFixed(1)} ms (min ${Math.min(...results.map((r) => r.startMs)).toFixed(1)}, max ${Math.max(...results.map((r) => r.startMs)).toFixed(1)})`,
);
console.log(
  `CPU used until ready: mean ${(results.reduce((a, r) => a + r.cpuMs, 0) / results.length).toFixed(1)} ms (less sensitive to other load than wall time)`,
);
console.log(
  `idle RSS: median ${(median(results.map((r) => r.rss)) / 1024).toFixed(1)} MiB, of which anonymous (private) ${(median(results.map((r) => r.anon)) / 1024).toFixed(1)} MiB`,
);
