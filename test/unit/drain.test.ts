import { Agent, createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrain, type Answer } from '../../src/server/drain.js';
import { until } from '../helpers/process.js';

interface Reply {
  status: number;
  connection: string | undefined;
}

describe('createDrain', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it('waits for every answer in progress, ended in any order, and closes those not yet sent', async () => {
    const pending: Array<{ res: ServerResponse; answer: Answer }> = [];
    const server = createServer({ keepAliveTimeout: 60_000 }, (_req, res) =>
      pending.push({ res, answer: drain.answerStarted(res) }),
    );
    const drain = createDrain(server, 50);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 }); // a client that asks for keep-alive
    cleanups.push(() => {
      agent.destroy();
      server.closeAllConnections();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const replies = [0, 1, 2, 3].map(
      () =>
        new Promise<Reply>((resolve, reject) => {
          request({ port, host: '127.0.0.1', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
          })
            .on('error', reject)
            .end();
        }),
    );
    await until(() => pending.length === 4, 2000, 'four requests in progress');
    const [a, b, c, d] = pending as [
      (typeof pending)[0],
      (typeof pending)[0],
      (typeof pending)[0],
      (typeof pending)[0],
    ];
    // b's headers go out before the drain (its keep-alive promise stands); the others are not sent yet.
    b.res.writeHead(200);
    b.res.write('partial');

    let done = false;
    const begun = drain.begin(2000);
    void drain.answersDone(0).then(() => (done = true));
    expect(drain.draining).toBe(true);

    // A middle one, the last one, then the first: the list stays whole, and nothing resolves early.
    for (const { res, answer } of [c, d, a]) {
      res.end('ok');
      drain.answerEnded(answer, performance.now());
      drain.answerEnded(answer, performance.now()); // twice: counted once
    }
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    b.res.end();
    drain.answerEnded(b.answer, performance.now());
    await until(() => done, 2000, 'answersDone resolved');
    await begun;

    const got = await Promise.all(replies);
    expect(got.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // Which request reached the handler first is up to the network: count the promises instead.
    expect(got.filter((r) => r.connection === 'close')).toHaveLength(3);
    expect(got.filter((r) => r.connection === 'keep-alive')).toHaveLength(1);
  });

  it('answersDone resolves at once when nothing is in progress', async () => {
    const server = createServer();
    const drain = createDrain(server, 50);
    await expect(drain.answersDone(0)).resolves.toBeUndefined();
  });
});
