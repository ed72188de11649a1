// Compares candidate http-mode proxies (src's undici proxy, plain node:http, http-proxy) and the whole watchdog against the bare upstream.
// Usage: npm run build && node bench/proxy-choice.mjs   (BENCH_SECONDS=5 BENCH_CONNECTIONS=50 BENCH_ROUNDS=2 to change the load;
// FWATCHDOG_COMPARE=/path/to/other/fwatchdog.cjs adds another watchdog build to the same run, e.g. a bundle from before a change)
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import autocannon from 'autocannon';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
// Rounds interleave the targets so a neighbour's load spike does not land on one candidate only.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const POST_BODY = Buffer.alloc(1024, 'x');

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const children = [];
let logDir = tmpdir();
function start(args, env, label) {
  // stderr goes to a file, not through this process: autocannon runs here and must not pay for the watchdog's access log.
  const logFile = join(logDir, `${children.length}.log`);
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', openSync(logFile, 'w')],
  });
  child.on('exit', (code) => {
    if (code !== null && code !== 0 && !child.stopping)
      process.stderr.write(`${label} exited ${code}:\n${readFileSync(logFile, 'utf8').slice(-4096)}\n`);
  });
  children.push(child);
  return child;
}

async function waitListening(port, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true)); // in use: someone listens
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stops every child. A watchdog gets SIGTERM (with healthcheck_interval=0 it drains at once, then
 * stops its upstream's process group); SIGKILL would leave that upstream running. Waits up to 5 s.
 */
async function stopAll() {
  const exits = [];
  for (const c of children) {
    c.stopping = true;
    if (c.exitCode !== null || c.signalCode !== null) continue;
    exits.push(new Promise((resolve) => c.once('exit', resolve)));
    c.kill(c.isWatchdog ? 'SIGTERM' : 'SIGKILL');
  }
  const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 5000);
  await Promise.all(exits);
  clearTimeout(timer);
}

const UPSTREAM = `
const http = require('node:http');
http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => (n += c.length));
  req.on('end', () => res.end(req.method === 'POST' ? 'got ' + n : 'hello world'));
}).listen(Number(process.env.PORT), '127.0.0.1');`;

const NODE_HTTP_PROXY = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
const target = new URL(process.env.TARGET);
http.createServer((req, res) => {
  const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
    res.writeHead(r.statusCode, r.rawHeaders.filter((_, i, a) => !/^(connection|keep-alive|transfer-encoding)$/i.test(a[i - (i % 2)])));
    r.pipe(res);
  });
  up.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(up);
}).listen(Number(process.env.PORT), '127.0.0.1');`;

const HTTP_PROXY = `
const http = require('node:http');
const httpProxy = require('http-proxy');
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: process.env.TARGET, agent, xfwd: true });
proxy.on('error', (err, req, res) => { res.writeHead(502); res.end(); });
http.createServer((req, res) => proxy.web(req, res)).listen(Number(process.env.PORT), '127.0.0.1');`;

async function leanProxyScript(dir) {
  // The real proxy code from src (undici), bundled, behind a bare node:http server (no watchdog core).
  const entry = join(dir, 'lean.ts');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    entry,
    `import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createProxy } from ${JSON.stringify(join(ROOT, 'src/modes/http/proxy-call.ts'))};
import { upstreamTarget } from ${JSON.stringify(join(ROOT, 'src/modes/http/upstream-target.ts'))};
const noop = () => {};
const logger = { debug: noop, info: noop, warn: noop, error: noop, functionLine: noop, debugEnabled: false };
const proxy = createProxy({ upstream: upstreamTarget(new URL(process.env.TARGET)), bufferBody: false, logger });
createServer((req, res) => {
  const controller = new AbortController();
  res.once('close', () => { if (!res.writableFinished) controller.abort(); });
  proxy.forward({ req, res, body: req, timeoutMs: 30000, signal: controller.signal, startedAt: performance.now(), bytesOut: 0 }, 30000);
}).listen(Number(process.env.PORT), '127.0.0.1');`,
  );
  const out = join(dir, 'lean.cjs');
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  return out;
}

/** CPU time (user + system) of a process so far, in µs, from /proc (Linux clock ticks of 10 ms). */
function cpuMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN; // not Linux, or the process is gone: the column shows NaN
  }
}

async function load(url, method, pid) {
  const cpuBefore = cpuMicros(pid);
  const result = await autocannon({
    url,
    method,
    connections: CONNECTIONS,
    duration: SECONDS,
    ...(method === 'POST' ? { body: POST_BODY, headers: { 'content-type': 'application/octet-stream' } } : {}),
  });
  return {
    // CPU the target process spent per request: steadier than req/s on a shared machine.
    cpuUs: (cpuMicros(pid) - cpuBefore) / result.requests.total,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'proxy-choice-'));
  try {
    const { writeFileSync } = await import('node:fs');
    logDir = dir;
    const upstreamFile = join(dir, 'upstream.cjs');
    writeFileSync(upstreamFile, UPSTREAM);
    const upstreamPort = await freePort();
    const upstreamProc = start([upstreamFile], { PORT: String(upstreamPort) }, 'upstream');
    await waitListening(upstreamPort);
    const target = `http://127.0.0.1:${upstreamPort}`;

    const leanPort = await freePort();
    const leanProc = start([await leanProxyScript(dir)], { PORT: String(leanPort), TARGET: target }, 'lean proxy');
    const nodePort = await freePort();
    const nodeProc = start(['-e', NODE_HTTP_PROXY], { PORT: String(nodePort), TARGET: target }, 'node:http proxy');
    const hpPort = await freePort();
    const hpProc = start(
      ['-e', HTTP_PROXY],
      { PORT: String(hpPort), TARGET: target, NODE_PATH: join(ROOT, 'node_modules') },
      'http-proxy',
    );

    // The whole watchdog in http mode, with its own upstream process of the same code.
    const watchdogs = [['fwatchdog mode=http (dist/fwatchdog.cjs)', join(ROOT, 'dist/fwatchdog.cjs')]];
    if (process.env.FWATCHDOG_COMPARE)
      watchdogs.push([`fwatchdog mode=http (${process.env.FWATCHDOG_COMPARE})`, process.env.FWATCHDOG_COMPARE]);
    const wdTargets = [];
    for (const [name, file] of watchdogs) {
      const wdUpstreamPort = await freePort();
      const wdPort = await freePort();
      const wdProc = start(
        [file],
        {
          mode: 'http',
          fprocess: `${process.execPath} ${upstreamFile}`,
          PORT: String(wdUpstreamPort),
          upstream_url: `http://127.0.0.1:${wdUpstreamPort}`,
          port: String(wdPort),
          metrics_port: '0',
          TMPDIR: dir,
          log_format: 'text',
          healthcheck_interval: '0',
        },
        name,
      );
      wdProc.isWatchdog = true;
      await Promise.all([waitListening(wdPort), waitListening(wdUpstreamPort)]);
      wdTargets.push([name, `http://127.0.0.1:${wdPort}/`, wdProc.pid]);
    }
    await Promise.all([waitListening(leanPort), waitListening(nodePort), waitListening(hpPort)]);

    const results = new Map();
    const targets = [
      ['bare upstream (baseline)', `http://127.0.0.1:${upstreamPort}/`, upstreamProc.pid],
      ['undici proxy alone (src/modes/http/proxy-call.ts)', `http://127.0.0.1:${leanPort}/`, leanProc.pid],
      ['node:http + keep-alive Agent proxy', `http://127.0.0.1:${nodePort}/`, nodeProc.pid],
      ['http-proxy 1.18', `http://127.0.0.1:${hpPort}/`, hpProc.pid],
      ...wdTargets,
    ];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const method of ['GET', 'POST']) {
        for (const [name, url, pid] of targets) {
          process.stderr.write(`round ${round}: ${method} ${name}...\n`);
          const key = `${method}\t${name}`;
          if (!results.has(key)) results.set(key, []);
          results.get(key).push(await load(url, method, pid));
        }
      }
    }
    const mean = (xs) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
    process.stdout.write(
      `\n${CONNECTIONS} connections, ${SECONDS}s per run, ${ROUNDS} interleaved rounds (mean; req/s per round in brackets), node ${process.version}, ${new Date().toISOString()}\n`,
    );
    process.stdout.write(
      'CPU µs/req: CPU time of that target process alone (the watchdog, not its upstream) per request answered.\n\n',
    );
    process.stdout.write(
      '| request | target | req/s | × bare | p50 ms | p99 ms | CPU µs/req | errors |\n|---|---|---:|---:|---:|---:|---:|---:|\n',
    );
    for (const [key, runs] of results) {
      const [method, name] = key.split('\t');
      const rps = runs.map((r) => r.rps);
      const bare = mean(results.get(`${method}\t${targets[0][0]}`).map((r) => r.rps));
      process.stdout.write(
        `| ${method === 'GET' ? 'GET' : 'POST 1 KiB'} | ${name} | ${mean(rps)} (${rps.join(', ')}) | ${(mean(rps) / bare).toFixed(2)} | ${mean(runs.map((r) => r.p50))} | ${mean(runs.map((r) => r.p99))} | ${(runs.reduce((a, r) => a + r.cpuUs, 0) / runs.length).toFixed(1)} | ${runs.reduce((a, r) => a + r.errors, 0)} |\n`,
      );
    }
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  await stopAll();
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
