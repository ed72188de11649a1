// Shared plumbing of the fork modes: spawn per call, stderr to the log, timeout and disconnect kill.
import type { StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { cgiBaseEnv, cgiVariables, rfc3875BaseEnv, rfc3875Variables } from '../process/cgi-env.js';
import { VERSION } from '../version.js';
import {
  spawnFunction,
  type FunctionProcess,
  type ProcessOutcome,
  type SpawnOptions,
} from '../process/function-process.js';
import { readLines } from '../log/line-reader.js';
import { WatchdogError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { FunctionCall, ModeDeps, ModeRunner } from './mode.js';
import { describeExit } from '../process/describe-exit.js';

/** Grace between SIGTERM and SIGKILL for a function's process group. */
export const KILL_GRACE_MS = 1000;

/** How long after SIGKILL shutdown still waits for a process's exit to be reported. */
const STOP_SLACK_MS = 1000;

export interface ForkedCall {
  readonly proc: FunctionProcess;
  readonly outcome: Promise<ProcessOutcome>;
  /** True once exec_timeout fired for this call. */
  readonly timedOut: boolean;
}

export interface ForkRunner {
  /** Spawns the function for `call` with the CGI env; stderr is logged unless `captureStderr`. */
  fork(call: FunctionCall, options: ForkOptions): ForkedCall;
  /** Ends every running process (after the drain) and waits for them. */
  stopAll(): Promise<void>;
}

export interface ForkOptions {
  /** Adds classic's extra CGI variables. */
  classic: boolean;
  /** Builds the Http_* env (otherwise the watchdog's env is inherited as is). */
  cgi: boolean;
  /** The whole body's length when the mode has read it (CONTENT_LENGTH with cgi_env=rfc3875). */
  bodyLength?: number;
  stdio?: StdioOptions;
  /** fd 2 shares fd 1's channel, read from child.stdout (only with the spawn addon: deps.spawner.native). */
  combineOutput?: boolean;
  /** Parent ends of extra output channels (passed in `stdio`) that must be drained before the call is done. */
  outputs?: Readable[];
  /** Log stderr line by line (otherwise the mode reads it). */
  logStderr: boolean;
  /** Called once when exec_timeout fires, right after the process group got SIGTERM. */
  onTimeout?: () => void;
}

const PIPES: StdioOptions = ['pipe', 'pipe', 'pipe'];
const CLASSIC = { classic: true };
const OF_WATCHDOG = { classic: false };

function onTimeout(state: {
  timedOut: boolean;
  proc: FunctionProcess;
  onTimeout?: () => void;
  events: ModeDeps['events'];
}): void {
  state.timedOut = true;
  state.events.execTimeout();
  state.proc.stop('timeout');
  state.onTimeout?.();
}

export function createForkRunner(deps: ModeDeps): ForkRunner {
  const { config, logger, baseEnv } = deps;
  const program = deps.programPath as string;
  const args = config.argv.slice(1);
  const active = new Set<FunctionProcess>();
  const lineCut = (): void => deps.events.logLineCut();
  // The CGI env is the shared base plus only the request's variables (Http_*, and RFC 3875's with cgi_env=rfc3875).
  const rfc = config.cgiEnv === 'rfc3875';
  const cgiBase = rfc ? rfc3875BaseEnv(cgiBaseEnv(baseEnv)) : cgiBaseEnv(baseEnv);
  const plainBase = rfc ? rfc3875BaseEnv(baseEnv) : baseEnv;
  const serverSoftware = `fwatchdog/${VERSION}`;

  function requestEnv(call: FunctionCall, options: ForkOptions): Record<string, string> | undefined {
    if (!rfc)
      return options.cgi ? cgiVariables(call.req, options.classic ? CLASSIC : OF_WATCHDOG, call.target) : undefined;
    const meta = rfc3875Variables(
      call.req,
      options.bodyLength === undefined ? { serverSoftware } : { serverSoftware, bodyLength: options.bodyLength },
      call.target,
    );
    return options.cgi
      ? Object.assign(cgiVariables(call.req, options.classic ? CLASSIC : OF_WATCHDOG, call.target), meta)
      : meta;
  }

  return {
    fork(call, options) {
      const extraEnv = requestEnv(call, options);
      const spawnOptions: SpawnOptions = extraEnv
        ? {
            args,
            env: options.cgi ? cgiBase : plainBase,
            extraEnv,
            stdio: options.stdio ?? PIPES,
            graceMs: KILL_GRACE_MS,
          }
        : { args, env: baseEnv, stdio: options.stdio ?? PIPES, graceMs: KILL_GRACE_MS };
      if (options.outputs) spawnOptions.outputs = options.outputs;
      if (options.combineOutput === true) spawnOptions.combineOutput = true;
      const proc = spawnFunction(deps.spawner, program, spawnOptions);
      active.add(proc);
      if (options.logStderr && proc.child.stderr)
        readLines(
          proc.child.stderr,
          config.logBufferSize,
          (line) => logger.functionLine('stderr', line, call.callId),
          lineCut,
        );
      const state: { timedOut: boolean; proc: FunctionProcess; onTimeout?: () => void; events: ModeDeps['events'] } = {
        timedOut: false,
        proc,
        events: deps.events,
      };
      if (options.onTimeout) state.onTimeout = options.onTimeout;
      const timer = call.timeoutMs > 0 ? setTimeout(onTimeout, call.timeoutMs, state) : undefined;
      // The client went away (or write_timeout cut the answer): the response closed unfinished. This is
      // what aborts call.signal; watching 'close' spares building an AbortSignal per request.
      const { res } = call;
      const onClose = (): void => {
        if (!res.writableFinished) proc.stop('client-gone');
      };
      if (res.destroyed) proc.stop('client-gone');
      else res.once('close', onClose);
      const outcome = proc.done.then((o) => {
        if (timer) clearTimeout(timer);
        res.removeListener('close', onClose);
        active.delete(proc);
        return o;
      });
      return {
        proc,
        outcome,
        get timedOut() {
          return state.timedOut;
        },
      };
    },
    async stopAll() {
      const waits: Promise<ProcessOutcome>[] = [];
      for (const proc of active) {
        proc.stop('shutdown');
        waits.push(proc.done);
      }
      // SIGKILL follows SIGTERM after the grace; if an exit is still never seen, do not hang shutdown.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, KILL_GRACE_MS + STOP_SLACK_MS);
      });
      await Promise.race([Promise.all(waits), bound]);
      clearTimeout(timer);
    },
  };
}

/**
 * The answer to a call whose function could not be started. The detail (the program's absolute path,
 * the errno) goes to the log only; the client reads a generic reason. E2BIG means the request's
 * headers, turned into Http_* variables, overflowed the kernel's limit on a program's environment:
 * that is the request's fault, so it is a 431. `newline`: end the body with one (serializing does not).
 */
export function startFailure(
  o: ProcessOutcome,
  logger: Logger,
  url: string | undefined,
  newline = true,
): WatchdogError {
  const nl = newline ? '\n' : '';
  logger.warn(`function could not be started: ${describeExit(o)}`, { url });
  if ((o.startError as NodeJS.ErrnoException | undefined)?.code === 'E2BIG') {
    return new WatchdogError('HEADERS_TOO_LARGE', `request headers too large to pass to the function${nl}`, {
      cause: o.startError,
    });
  }
  return new WatchdogError('PROCESS_START_FAILED', `the function could not be started${nl}`, { cause: o.startError });
}

/**
 * Bounds what a buffering mode keeps of one call's output to max_output_bytes (0 = no bound). `add`
 * keeps a chunk and returns true, or, on the chunk that goes over, stops the process group, logs and
 * counts it, calls `refuse` with the error to answer (never a truncated 200) and returns false from
 * then on; later chunks are read and dropped so the process can exit.
 */
export function outputBound(
  deps: ModeDeps,
  call: FunctionCall,
  proc: FunctionProcess,
  refuse: (err: WatchdogError) => void,
): { add(chunk: Buffer): boolean; readonly size: number; readonly over: boolean } {
  const limit = deps.config.maxOutputBytes;
  let size = 0;
  let over = false;
  return {
    add(chunk) {
      if (over) return false;
      size += chunk.length;
      if (limit === 0 || size <= limit) return true;
      over = true;
      proc.stop('output-limit');
      deps.logger.warn(`function output is larger than max_output_bytes (${limit} bytes): process group stopped`, {
        url: call.target,
      });
      deps.events.outputTooLarge();
      refuse(new WatchdogError('PROCESS_FAILED', `function output is larger than max_output_bytes (${limit} bytes)\n`));
      return false;
    },
    get size() {
      return size;
    },
    get over() {
      return over;
    },
  };
}

/** Ignores errors on a child's stdin: a function that exits without reading its body is not an error. */
export function ignorePipeErrors(stream: NodeJS.WritableStream | null): void {
  stream?.on('error', () => {
    // EPIPE/ECONNRESET: the process stopped reading; its exit status tells the story.
  });
}

/** The ModeRunner of a fork mode: always ready (nothing runs between requests); stop ends every process. */
export function forkModeRunner(runner: ForkRunner, handle: (call: FunctionCall) => void): ModeRunner {
  return {
    start: () => Promise.resolve(),
    isReady: () => true,
    waitReady: () => Promise.resolve(true),
    handle,
    stop: () => runner.stopAll(),
  };
}
