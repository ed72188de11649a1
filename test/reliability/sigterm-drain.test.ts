// SIGTERM under keep-alive load: every request the watchdog accepted is answered in full, then exit 0.
import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fixture, makeTmpDir, withTimeout } from '../helpers/watchdog.js';
import { report, startBinary } from './support.js';

const CLIENTS = 20;

interface Outcome {
  id: number;
  sentAtMs: number;
  status?: number;
  body?: string;
  connection?: string;
  error?: string;
}

/** One request on `agent`; never rejects. */
function call(url: string, agent: Agent, id: number, started: number): Promise<Outcome> {
  const outcome: Outcome = { id, sentAtMs: performance.now() - started };
  return new Promise((resolve) => {
    const req = request(`${url}/?id=${id}`, { method: 'POST', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ...outcome, status: res.statusCode as number, body, connection: res.headers.connection as string }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ ...outcome, error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ...outcome, error: `${err.code ?? err.message}${req.reusedSocket ? ' on a reused socket' : ''}` }));
    req.end('x');
  });
}

describe('SIGTERM under keep-alive load', () => {
  it('answers every accepted request in full, says Connection: close once draining, and exits 0', async () => {
    const wd = await startBinary({ fprocess: `${fixture('sleep-then-echo')} 0.05`, healthcheck_interval: '2s', TMPDIR: makeTmpDir() });
    const started = performance.now();
    let exited = false;
    void wd.exited.then(() => (exited = true));
    const outcomes: Outcome[] = [];
    let nextId = 0;
    const client = async (): Promise<void> => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        while (!exited) {
          const o = await call(wd.url, agent, nextId++, started);
          outcomes.push(o);
          if (o.error === 'ECONNREFUSED') return; // the listener is closed: this client is done
        }
      } finally {
        agent.destroy();
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, client));
    await new Promise((r) => setTimeout(r, 300));
    const sigtermAtMs = performance.now() - started;
    process.kill(wd.pid, 'SIGTERM');
    const code = await withTimeout(wd.exited, 6000, 'the watchdog to exit');
    await withTimeout(load, 2000, 'the clients to stop');
    expect(code).toBe(0);

    // The access log names every request the watchdog accepted.
    const accepted = new Set([...wd.stderr.matchAll(/POST \/\?id=(\d+) - /g)].map((m) => Number(m[1])));
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    const lost = [...accepted].filter((id) => byId.get(id)?.status !== 200 || byId.get(id)?.body !== 'done\n');
    const complete = outcomes.filter((o) => o.status === 200 && o.body === 'done\n');
    const errors = outcomes.filter((o) => o.error !== undefined);
    const drainLine = /No new connections allowed/.exec(wd.stderr);
    expect(drainLine).not.toBeNull();
    // Responses to requests sent well after SIGTERM + healthcheck_interval all ask the client to go.
    const lateResponses = complete.filter((o) => o.sentAtMs > sigtermAtMs + 2200);
    report('SIGTERM while 20 keep-alive clients drive load (healthcheck_interval 2s)', {
      accepted: accepted.size,
      answered: complete.length,
      lost: lost.length,
      refused: errors.filter((o) => o.error === 'ECONNREFUSED').length,
      otherErrors: errors.filter((o) => o.error !== 'ECONNREFUSED').map((o) => `${o.error} at ${Math.round(o.sentAtMs - sigtermAtMs)}ms`),
      connectionClose: complete.filter((o) => o.connection === 'close').length,
    });
    expect(accepted.size).toBeGreaterThan(CLIENTS);
    expect(lost).toEqual([]);
    expect(complete.length).toBe(accepted.size);
    // Requests that failed never reached the watchdog: refused after the listener closed, nothing reset.
    expect(errors.map((o) => o.error).filter((e) => e !== 'ECONNREFUSED')).toEqual([]);
    expect(complete.filter((o) => o.connection === 'close').length).toBeGreaterThan(0);
    expect(lateResponses.filter((o) => o.connection !== 'close')).toEqual([]);
  });
});
