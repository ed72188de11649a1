// Where the watchdog's lines go: an fd (1 or 2) written asynchronously, in order, never blocking the
// event loop on a slow log reader; flushSync() writes what is left before an exit. What pino's
// sonic-boom destination did, without its module graph (node:assert, atomic-sleep, events) at start-up.
import { write, writeSync } from 'node:fs';

/** At most this many bytes per write(2): what Docker's log copier reads at once. */
const MAX_WRITE = 16 * 1024;

/** How long to wait before writing again when the fd is non-blocking and full (EAGAIN). */
const BUSY_RETRY_MS = 100;

export interface FdSink {
  write(chunk: string): void;
  /** Writes everything still buffered, synchronously (before process.exit). */
  flushSync(): void;
}

/** The fs calls a sink makes (tests give fakes that fail or write partially). */
export interface FdSinkIo {
  write(fd: number, buf: Buffer, cb: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  writeSync(fd: number, buf: Buffer): number;
}

const nodeIo: FdSinkIo = {
  write: (fd, buf, cb) => write(fd, buf, 0, buf.length, null, cb),
  writeSync: (fd, buf) => writeSync(fd, buf, 0, buf.length, null),
};

/** flushSync: how long to keep trying a full non-blocking fd, in steps of BUSY_SLEEP_MS. */
const FLUSH_WAIT_MS = 1000;
const BUSY_SLEEP_MS = 10;
const pause = new Int32Array(new SharedArrayBuffer(4));

function busy(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EAGAIN' || err.code === 'EBUSY';
}

/**
 * A sink for `fd`. Lines written while a write is in flight are queued and go out together (up to
 * MAX_WRITE bytes a write). If the fd fails for good (EPIPE: nobody reads the logs any more), what is
 * queued is dropped and later lines are ignored: the watchdog keeps serving without its logs.
 */
export function createFdSink(fd: number, io: FdSinkIo = nodeIo): FdSink {
  /** Lines waiting, joined into pieces of at most MAX_WRITE characters (a longer line is a piece alone). */
  const queued: string[] = [];
  /** The bytes of the write in flight or waiting to be retried, undefined when idle. */
  let writing: Buffer | undefined;
  /** A write(2) of `writing` is under way (false while it waits for a retry). */
  let inFlight = false;
  let broken = false;

  const start = (): void => {
    inFlight = true;
    io.write(fd, writing as Buffer, done);
  };

  const next = (): void => {
    const piece = queued.shift();
    if (piece === undefined) {
      writing = undefined;
      return;
    }
    writing = Buffer.from(piece);
    start();
  };

  const done = (err: NodeJS.ErrnoException | null, written: number): void => {
    inFlight = false;
    if (writing === undefined) return;
    if (err) {
      if (busy(err)) {
        setTimeout(retry, BUSY_RETRY_MS).unref();
        return;
      }
      broken = true;
      queued.length = 0;
      writing = undefined;
      return;
    }
    if (written < writing.length) {
      writing = writing.subarray(written);
      start();
      return;
    }
    next();
  };

  const retry = (): void => {
    if (writing !== undefined && !inFlight) start();
  };

  return {
    write(chunk) {
      if (broken) return;
      const last = queued.length - 1;
      // Appending to a piece keeps each write(2) near MAX_WRITE; each piece is flattened once, when written.
      if (last >= 0 && (queued[last] as string).length + chunk.length <= MAX_WRITE) queued[last] += chunk;
      else queued.push(chunk);
      if (writing === undefined) next();
    },
    flushSync() {
      if (broken) return;
      // A write in flight is left to finish; one waiting for a retry after EAGAIN is written here.
      let buf = Buffer.from(queued.join(''));
      queued.length = 0;
      if (writing !== undefined && !inFlight) {
        buf = Buffer.concat([writing, buf]);
        writing = undefined;
      }
      for (let waited = 0; buf.length > 0; ) {
        try {
          buf = buf.subarray(io.writeSync(fd, buf));
        } catch (err) {
          if (!busy(err as NodeJS.ErrnoException) || waited >= FLUSH_WAIT_MS) return;
          Atomics.wait(pause, 0, 0, BUSY_SLEEP_MS);
          waited += BUSY_SLEEP_MS;
        }
      }
    },
  };
}
