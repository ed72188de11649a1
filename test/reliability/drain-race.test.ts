// SIGTERM under keep-alive load, in every mode that runs a function: no accepted request is lost.
import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freePort, until } from '../helpers/process.js';
import { IDLE_SWEEP_GRACE_MS } from '../../src/server/drain.js';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';
import { report, startBinary } from './support.js';

const CLIENTS = 20;
const RUNS = Number(process.env.DRAIN_RUNS ?? 10);

interface Outcome {
  id: number;
  status?: number;
  body?: string;
  error?: string;
  reused: boolean;
  /** How long this client sat idle after its previous answer before sending this request. */
  idleGapMs: number;
}

/** One POST on `agent` whose body is its id; never rejects. */
function post(url: string, agent: Agent, id: number, idleGapMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const base = { id, idleGapMs };
    const req = request(
      `${url}?id=${id}`,
      { method: 'POST', agent, headers: { 'Content-Type': 'text/plain' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ ...base, status: res.statusCode as number, body, reused: req.reusedSocket }));
        res.on('error', (err: NodeJS.ErrnoException) =>
          resolve({ ...base, error: err.code ?? err.message, reused: req.reusedSocket }),
        );
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ ...base, error: err.code ?? err.message, reused: req.reusedSocket }),
    );
    req.end(`request ${id}`);
  });
}

async function modeEnv(mode: string): Promise<{ env: Record<string, string>; path: string }> {
  if (mode !== 'http') return { env: { mode, fprocess: 'cat' }, path: '/' };
  const port = await freePort();
  return {
    env: {
      mode,
      fprocess: fixture('upstreams/upstream'),
      upstream_url: `http://127.0.0.1:${port}`,
      PORT: String(port),
    },
    path: '/echo-body',
  };
}

/** One run: 20 keep-alive clients POST in a loop, SIGTERM, and every request is either refused or answered in full. */
async function drainOnce(mode: string): Promise<{
  accepted: number;
  answered: number;
  refused: number;
  lateClients: number;
  lost: string[];
  exitCode: number | string;
}> {
  const { env, path } = await modeEnv(mode);
  const wd = await startBinary({ ...env, healthcheck_interval: '50ms', TMPDIR: makeTmpDir() });
  let exited = false;
  void wd.exited.then(() => (exited = true));
  const outcomes: Outcome[] = [];
  let nextId = 0;
  let answered = 0;
  const client = async (): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let lastEnd = performance.now();
      while (!exited) {
        const o = await post(`${wd.url}${path}`, agent, nextId++, performance.now() - lastEnd);
        lastEnd = performance.now();
        outcomes.push(o);
        if (o.status === 200) answered++;
        if (o.error === 'ECONNREFUSED') return; // the listener is closed: this client is done
      }
    } finally {
      agent.destroy();
    }
  };
  const load = Promise.all(Array.from({ length: CLIENTS }, client));
  // SIGTERM once the load runs on every connection (not after a fixed sleep).
  await until(() => answered >= CLIENTS, 5000, 'the first answers under load');
  process.kill(wd.pid, 'SIGTERM');
  const exitCode = await withTimeout(wd.exited, 8000, 'the watchdog to exit');
  await withTimeout(load, 3000, 'the clients to stop');
  // The access log names every request the watchdog accepted, with the status it logged.
  const accepted = new Map(
    [...wd.stderr.matchAll(/POST \/(?:echo-body)?\?id=(\d+) - (\d+) /g)].map((m) => [Number(m[1]), m[2]]),
  );
  const lost: string[] = [];
  let refused = 0;
  let lateClients = 0;
  for (const o of outcomes) {
    if (o.status === 200 && o.body === `request ${o.id}`) continue;
    const what = `${o.id}: ${o.error ?? `${o.status} ${JSON.stringify(o.body)}`}${o.reused ? ' on a reused socket' : ' on a fresh socket'}`;
    // Accepted (in the access log) but not answered in full: lost, whatever the client saw.
    if (accepted.has(o.id)) lost.push(`${what} (accepted, logged ${accepted.get(o.id)})`);
    // Refused, or reset in the accept queue, at the closed listener: it never reached the watchdog.
    else if (!o.reused && (o.error === 'ECONNREFUSED' || o.error === 'ECONNRESET')) refused++;
    // A client that itself sat idle past the grace (a starved test process) sent on an idle socket: closing it was right.
    else if (o.reused && o.idleGapMs >= IDLE_SWEEP_GRACE_MS) lateClients++;
    else lost.push(`${what} after ${Math.round(o.idleGapMs)} ms idle`);
  }
  return {
    accepted: accepted.size,
    answered: outcomes.filter((o) => o.status === 200).length,
    refused,
    lateClients,
    lost,
    exitCode,
  };
}

describe('SIGTERM while 20 keep-alive clients POST in a loop', () => {
  for (const mode of ['classic', 'streaming', 'serializing', 'http']) {
    it(`${mode} mode loses no request in ${RUNS} runs and exits 0`, { timeout: 60_000 }, async () => {
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await drainOnce(mode));
      report(`SIGTERM under keep-alive load, ${mode} mode, ${RUNS} runs`, {
        accepted: runs.map((r) => r.accepted),
        refused: runs.map((r) => r.refused),
        lateClients: runs.map((r) => r.lateClients),
        lost: runs.flatMap((r) => r.lost),
      });
      expect(runs.every((r) => r.answered > CLIENTS)).toBe(true);
      expect(runs.map((r) => ({ exitCode: r.exitCode, lost: r.lost }))).toEqual(
        runs.map(() => ({ exitCode: 0, lost: [] })),
      );
    });
  }
});
