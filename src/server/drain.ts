// The shutdown drain: stop listening, make every later answer say Connection: close, close keep-alive sockets once idle.
import type { ServerResponse, Server } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LinkedList, ListNode } from '../linked-list.js';
import { stopListening } from '../internals.js';

/**
 * How long a keep-alive socket must have been idle since its last answer before the drain closes it.
 * A client's next request can be on its way when the socket looks idle (a starved client reads its
 * answer late); closing the socket then resets that request. A second covers a loaded machine.
 */
export const IDLE_SWEEP_GRACE_MS = 1000;

/** How often the drain looks at its sockets again. */
const POLL_MS = 20;

export interface Drain {
  /** True once the drain has begun: every answer begun from then on must say Connection: close. */
  readonly draining: boolean;
  /** A function answer begins on `res`: in progress until answerEnded is given the returned handle. */
  answerStarted(res: ServerResponse): Answer;
  /** The answer has closed (finished or cut); `now` is performance.now(). */
  answerEnded(answer: Answer, now: number): void;
  /** An answer the watchdog wrote at once (health, redirect) ended on `socket`. */
  answeredAt(socket: Socket): void;
  /**
   * Begins the drain: stops listening, tells answers not yet started to close their connection, and closes
   * each idle keep-alive socket once it has been idle for the grace. Resolves when no socket is left that
   * may still turn idle with a keep-alive promise, or after `maxMs` (0 = no limit).
   */
  begin(maxMs: number): Promise<void>;
  /** Resolves once no function answer is in progress, or after `maxMs` (0 = no limit). */
  answersDone(maxMs: number): Promise<void>;
}

/** A function answer in progress: an entry of the drain's list (a few pointer moves per request, no hashing). */
export class Answer extends ListNode {
  constructor(readonly res: ServerResponse) {
    super();
  }
}

interface LastAnswer {
  /** socket.bytesRead when the answer ended: more since then is a request on its way. */
  bytes: number;
  at: number;
}

/** Each socket's LastAnswer, kept on the socket itself (set once per connection; read on every answer). */
const LAST_ANSWER = Symbol('fwatchdog.lastAnswer');
type DrainSocket = Socket & { [LAST_ANSWER]?: LastAnswer };

export function createDrain(server: Server, graceMs = IDLE_SWEEP_GRACE_MS): Drain {
  const sockets = new Set<Socket>();
  // Function answers in progress, and those whose headers had promised keep-alive when the drain began.
  const active = new LinkedList<Answer>();
  const promised = new Set<ServerResponse>();
  const doneWaiters: Array<() => void> = [];
  let draining = false;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    (socket as DrainSocket)[LAST_ANSWER] = { bytes: 0, at: performance.now() };
    socket.once('close', () => sockets.delete(socket));
  });

  /** Notes an answer's end on its socket (the record made at 'connection' is updated: nothing allocated per request). */
  function markAnswered(socket: Socket | null, now: number): void {
    const record = socket === null ? undefined : (socket as DrainSocket)[LAST_ANSWER];
    if (record === undefined) return;
    record.bytes = (socket as Socket).bytesRead;
    record.at = now;
  }

  /** Closes the sockets idle for the grace; returns how long until the next idle one reaches it (-1: none). */
  function closeIdleSockets(now: number): number {
    const busy = new Set<Socket>();
    for (const a of active) busy.add(a.res.req.socket);
    let nextMs = -1;
    for (const socket of sockets) {
      // An answer in progress or still being written, or request bytes read since the last answer: not idle.
      const record = (socket as DrainSocket)[LAST_ANSWER];
      if (busy.has(socket) || socket.writableLength > 0 || record === undefined || socket.bytesRead !== record.bytes)
        continue;
      const leftMs = graceMs - (now - record.at);
      if (leftMs <= 0) socket.destroy();
      else nextMs = nextMs < 0 ? leftMs : Math.min(nextMs, leftMs);
    }
    return nextMs;
  }

  return {
    get draining() {
      return draining;
    },
    answerStarted(res) {
      const answer = new Answer(res);
      active.append(answer);
      return answer;
    },
    answerEnded(answer, now) {
      if (!active.remove(answer)) return;
      const { res } = answer;
      markAnswered(res.req.socket, now);
      if (!draining) return;
      promised.delete(res);
      if (active.size === 0) for (const wake of doneWaiters.splice(0)) wake();
    },
    answeredAt(socket) {
      markAnswered(socket, performance.now());
    },
    async begin(maxMs) {
      draining = true;
      const startedAt = performance.now();
      for (const { res: r } of active) {
        if (!r.headersSent) r.setHeader('Connection', 'close');
        else promised.add(r);
      }
      stopListening(server); // only the listener: http.Server.close() would also cut idle sockets at once
      for (;;) {
        const now = performance.now();
        const nextMs = closeIdleSockets(now);
        const leftMs = maxMs > 0 ? maxMs - (now - startedAt) : Infinity;
        if ((nextMs < 0 && promised.size === 0) || leftMs <= 0) return;
        // Looked at again soon: a socket whose next request arrives in the meantime is no longer waited for.
        await sleep(Math.max(1, Math.min(leftMs, nextMs < 0 ? POLL_MS : nextMs, POLL_MS)));
      }
    },
    answersDone(maxMs) {
      if (active.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = maxMs > 0 ? setTimeout(resolve, maxMs) : undefined;
        doneWaiters.push(() => {
          if (timer) clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
