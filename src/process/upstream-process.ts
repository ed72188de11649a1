// The http mode's long-lived upstream process: spawned once, output logged, its end reported once.
import type { Readable } from 'node:stream';
import { readLines } from '../log/line-reader.js';
import type { Logger } from '../log/logger.js';
import { spawnFunction, type FunctionProcess, type ProcessOutcome } from './function-process.js';
import type { Spawner } from './spawner.js';

/** How many of the upstream's last stderr lines are kept to explain its exit. */
export const STDERR_TAIL_LINES = 10;

/** How to start the upstream and where its output goes. */
export interface UpstreamProcessOptions {
  spawner: Spawner;
  program: string;
  args: string[];
  env: Record<string, string>;
  logger: Logger;
  logBufferSize: number;
  /** Grace between SIGTERM and SIGKILL for the upstream's process group. */
  graceMs: number;
  /** Called for each output line cut at logBufferSize. */
  onLineCut?: () => void;
}

/** The running upstream. */
export interface UpstreamProcess {
  readonly pid: number | undefined;
  /** Settles once the upstream has exited and its pipes are closed. */
  readonly done: Promise<ProcessOutcome>;
  /** The last stderr lines (at most STDERR_TAIL_LINES), oldest first. */
  stderrTail(): string[];
  /** SIGTERM to the group, SIGKILL after the grace; resolves when it is gone. */
  stop(): Promise<ProcessOutcome>;
}

/** Starts the upstream in its own process group; stdin is a pipe that is never written (as the original). */
export function startUpstreamProcess(options: UpstreamProcessOptions): UpstreamProcess {
  const { logger } = options;
  const proc: FunctionProcess = spawnFunction(options.spawner, options.program, {
    args: options.args,
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    graceMs: options.graceMs,
  });
  const tail: string[] = [];
  const child = proc.child;
  // A write error on the unused stdin (the upstream closed it) is not worth a crash.
  child.stdin?.on('error', () => undefined);
  if (child.stderr) {
    readLines(
      child.stderr as Readable,
      options.logBufferSize,
      (line) => {
        if (tail.length === STDERR_TAIL_LINES) tail.shift();
        tail.push(line);
        logger.functionLine('stderr', line);
      },
      options.onLineCut,
    );
  }
  if (child.stdout)
    readLines(
      child.stdout as Readable,
      options.logBufferSize,
      (line) => logger.functionLine('stdout', line),
      options.onLineCut,
    );
  return {
    pid: child.pid,
    done: proc.done,
    stderrTail: () => tail.slice(),
    stop() {
      proc.stop('shutdown');
      return proc.done;
    },
  };
}
