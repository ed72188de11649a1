// What cgi_response, cgi_env=rfc3875 and the queue cost per request, side by side with the plain fork modes.
// Usage: npm run build && node bench/cgi-cost.mjs [--duration <s per segment>] [--rounds <n>]
// Each target is a watchdog running `cat`; they are measured in alternating rounds (bench/lib/alternate.mjs)
// so every one sees the same machine load; the table gives req/s and the ratio to the plain target of its mode.
import console from 'node:console';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { alternate, combineRates } from './lib/alternate.mjs';
import { hammer } from './lib/load.mjs';
import { killAll, ourWatchdog, startWatchdog } from './lib/processes.mjs';

const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' } } });
const seconds = Number(values.duration ?? '5');
const rounds = Number(values.rounds ?? '3');
const exe = ourWatchdog();
const CONNECTIONS = 16;
const PLAIN_BODY = 'x'.repeat(1024);
const CGI_BODY = `Status: 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\n${PLAIN_BODY}`;

const targets = [
  { name: 'streaming', mode: 'streaming', env: {}, body: PLAIN_BODY },
  { name: 'streaming cgi_response', mode: 'streaming', env: { cgi_response: 'true' }, body: CGI_BODY },
  {
    name: 'streaming cgi_response + rfc3875',
    mode: 'streaming',
    env: { cgi_response: 'true', cgi_env: 'rfc3875' },
    body: CGI_BODY,
  },
  {
    name: 'streaming max_inflight=64 max_queue=64',
    mode: 'streaming',
    env: { max_inflight: '64', max_queue: '64' },
    body: PLAIN_BODY,
  },
  { name: 'serializing', mode: 'serializing', env: {}, body: PLAIN_BODY },
  { name: 'serializing cgi_response', mode: 'serializing', env: { cgi_response: 'true' }, body: CGI_BODY },
];

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

try {
  for (const t of targets)
    t.proc = await startWatchdog(t.name, exe, { mode: t.mode, fprocess: 'cat', log_format: 'text', ...t.env });
  const results = await alternate(targets, rounds, (t) =>
    hammer(t.proc.port, seconds, {
      connections: CONNECTIONS,
      method: 'POST',
      body: t.body,
      headers: { 'content-type': 'text/plain' },
    }),
  );
  console.log(
    `${exe.label}; ${rounds} rounds x ${seconds}s per target, ${CONNECTIONS} connections, 1 KiB bodies, fprocess=cat`,
  );
  console.log(
    `${'target'.padEnd(40)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errors'.padStart(7)}  ratio`,
  );
  const rate = new Map();
  for (const t of targets) rate.set(t.name, combineRates(results.get(t)));
  for (const t of targets) {
    const r = rate.get(t.name);
    const base = rate.get(t.mode);
    if (r.error !== undefined) {
      console.log(`${t.name.padEnd(40)} error: ${r.error}`);
      continue;
    }
    const ratio = base?.reqPerSec ? (r.reqPerSec / base.reqPerSec).toFixed(3) : '-';
    console.log(
      `${t.name.padEnd(40)} ${r.reqPerSec.toFixed(0).padStart(8)} ${r.p50Ms.toFixed(1).padStart(7)} ${r.p99Ms.toFixed(1).padStart(7)} ${String(r.errors).padStart(7)}  ${ratio}`,
    );
  }
} finally {
  for (const t of targets) await t.proc?.stop();
  killAll();
}
