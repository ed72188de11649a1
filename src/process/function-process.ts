// Spawns a function process in its own process group and ends the whole group when asked.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Spawner } from './spawner.js';

export type StopReason = 'timeout' | 'client-gone' | 'shutdown' | 'error' | 'output-limit';

export interface ProcessOutcome {
  /** Exit code, or null when ended by a signal or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all. */
  startError: Error | undefined;
  /** The first reason the watchdog gave for stopping it while it ran, if it did (a stop after its exit is not one). */
  stoppedBy: StopReason | undefined;
}

export interface FunctionProcess {
  readonly child: ChildProcess;
  /** Settles once the process has exited and its pipes are closed (or abandoned). */
  readonly done: Promise<ProcessOutcome>;
  /** SIGTERM to the whole group, SIGKILL after the grace; the first reason wins. */
  stop(reason: StopReason): void;
  readonly stoppedBy: StopReason | undefined;
}

export interface SpawnOptions {
  args: string[];
  env: Record<string, string>;
  /** Variables added to `env` for this process only (`env` itself is shared and not changed). */
  extraEnv?: Record<string, string>;
  /** fd 2 shares fd 1's channel (stderr null); only with the spawn addon (Spawner.native). */
  combineOutput?: boolean;
  stdio: StdioOptions;
  graceMs: number;
  /**
   * After the process exits, how long its pipes may stay open with nothing flowing before we
   * assume a grandchild holds them, kill the group and stop waiting.
   */
  lingerMs?: number;
  /**
   * Parent ends of output channels the process writes to other than its own stdio pipes (e.g. one
   * socket shared by fd 1 and 2). `done` waits for them to end too, with the same linger rule.
   */
  outputs?: Readable[];
}

/** Sends `signal` to the process group led by `pid`. ESRCH (already gone) is fine. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    // ESRCH: every member of the group has already exited; EPERM cannot happen for our own group.
    return false;
  }
}

/** Starts `program` in its own process group; `done` settles once it has ended and its output is drained. */
export function spawnFunction(spawner: Spawner, program: string, options: SpawnOptions): FunctionProcess {
  const started = spawner.start(program, options);
  const child = started.child;
  // The addon starts the process on a pool thread: its pid comes with 'spawn'.
  let pid = child.pid;
  let starting = started.starting;
  if (starting) {
    child.once('spawn', () => {
      starting = false;
      pid = child.pid;
    });
  }
  /** Signals the group now, or once the pid is known; false when there is no process to signal. */
  const sendToGroup = (sig: NodeJS.Signals): boolean => {
    if (pid !== undefined) return signalGroup(pid, sig);
    if (!starting) return false;
    child.once('spawn', () => signalGroup(child.pid, sig));
    return true;
  };
  let stoppedBy: StopReason | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let lingerTimer: NodeJS.Timeout | undefined;
  let lingerImmediate: NodeJS.Immediate | undefined;
  let exited = false;
  let closed = false;
  const outputs = options.outputs ?? [];
  const watched = (): Array<Readable | null> => [child.stdout, child.stderr, ...outputs];

  const bytesRead = (): number =>
    watched().reduce((n, s) => n + ((s as { bytesRead?: number } | null)?.bytesRead ?? 0), 0);

  const killHard = (): void => {
    sendToGroup('SIGKILL');
  };

  let stopping = false;
  const stop = (reason: StopReason): void => {
    if (stopping || closed) return;
    stopping = true;
    // A process that has exited by itself was not stopped (its group may still be, below): its outcome
    // stays its own. A call ending while the exit of a function that exited 0 was still being collected
    // used to turn that clean exit into `function failed: exit status 0`.
    if (!exited) stoppedBy = reason;
    if (!sendToGroup('SIGTERM')) return;
    killTimer = setTimeout(killHard, options.graceMs);
    killTimer.unref();
  };

  const done = new Promise<ProcessOutcome>((resolve) => {
    let startError: Error | undefined;
    let code: number | null = null;
    let signal: NodeJS.Signals | null = null;
    const finish = (): void => {
      if (closed) return;
      closed = true;
      if (lingerTimer) clearTimeout(lingerTimer);
      if (lingerImmediate) clearImmediate(lingerImmediate);
      // The group may still hold members that ignored SIGTERM; the SIGKILL timer stays armed for them.
      resolve({ code, signal, startError, stoppedBy });
    };
    child.once('error', (err) => {
      // 'error' without a pid means spawn failed; with one, a kill failed and 'close' still comes.
      if (pid === undefined) {
        starting = false;
        startError = err;
        finish();
      }
    });
    child.once('exit', (c, s) => {
      exited = true;
      code = c;
      signal = s;
      const lingerMs = options.lingerMs ?? 100;
      let lastBytes = bytesRead();
      let armedAt = performance.now();
      const rearm = (): void => {
        armedAt = performance.now();
        lingerTimer = setTimeout(check, lingerMs);
      };
      const check = (): void => {
        if (closed) return;
        // A timer that fires late means the event loop was busy: the end of the output may be waiting in the
        // poll phase that runs after timers. Only a quiet period the loop really watched counts.
        if (performance.now() - armedAt > 2 * lingerMs) return rearm();
        // Let one poll phase run first, so output (or its end) already readable is seen before the verdict.
        lingerImmediate = setImmediate(verdict);
      };
      const verdict = (): void => {
        if (closed) return;
        const streams = watched().filter((s) => s !== null && !s.destroyed && !s.readableEnded);
        const now = bytesRead();
        // Still flowing, or paused for a slow consumer (backpressure): not a grandchild's doing.
        if (now !== lastBytes || streams.some((s) => s?.readableFlowing === false || (s?.readableLength ?? 0) > 0)) {
          lastBytes = now;
          return rearm();
        }
        // Someone else (a grandchild) holds our pipes open: end the group and stop waiting. The process
        // itself exited by itself: its exit status is the outcome (a 0 is a success, in every mode).
        killHard();
        for (const s of streams) s?.destroy();
        finish();
      };
      rearm();
    });
    let childClosed = false;
    const finishWhenDrained = (): void => {
      if (childClosed && outputs.every((s) => s.destroyed || s.readableEnded)) finish();
    };
    for (const s of outputs) {
      s.once('end', finishWhenDrained);
      s.once('close', finishWhenDrained);
    }
    child.once('close', (c, s) => {
      if (!exited) {
        code = c;
        signal = s;
      }
      childClosed = true;
      finishWhenDrained();
    });
  });

  return {
    child,
    done,
    stop,
    get stoppedBy() {
      return stoppedBy;
    },
  };
}
