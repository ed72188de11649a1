// Where the watchdog's lines go: an fd (1 or 2), in synchronous writes: always in order (an exit's last
// lines included), no thread, and a log reader that falls behind slows the watchdog down, as Go's log
// does, instead of growing its memory. Lines are batched: the first line after a quiet spell leaves at
// the end of its event-loop turn; while lines keep coming, they leave together at most once per
// FLUSH_GAP_MS (or at once when the MAX_PENDING-byte buffer is full). Under load that is one write for
// hundreds of access lines: on this VM a write costs more than formatting the line.
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { ByteSink } from './logger.js';

/** A ByteSink on an fd: claim() gives room at the end of the pending bytes (-1 too when the fd is gone). */
export interface FdSink extends ByteSink {
  write(chunk: string): void;
  /** Writes what is pending now (before process.exit). */
  flushSync(): void;
}

/** The fs call a sink makes (tests give fakes that fail or write partially). */
export interface FdSinkIo {
  writeSync(fd: number, buf: Buffer): number;
  /** A monotonic clock in ms (tests give a fake one). */
  now(): number;
}

const nodeIo: FdSinkIo = {
  writeSync: (fd, buf) => writeSync(fd, buf, 0, buf.length, null),
  now: () => performance.now(),
};

/** Lines that keep coming leave at most once per this many ms. */
export const FLUSH_GAP_MS = 5;
/** Bytes pending that are written at once, whatever the gap (bounds the memory behind a busy log). */
export const MAX_PENDING = 64 * 1024;

/** A non-blocking fd that stays full (EAGAIN) is tried again every BUSY_SLEEP_MS for this long; then the batch is dropped. */
const BUSY_WAIT_MS = 1000;
const BUSY_SLEEP_MS = 10;
const pause = new Int32Array(new SharedArrayBuffer(4));

function busy(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EAGAIN' || err.code === 'EBUSY';
}

/**
 * A sink for `fd`. If the fd fails for good (EPIPE, EBADF: nobody reads the logs any more), later lines are
 * ignored: the watchdog keeps serving without its logs.
 */
export function createFdSink(fd: number, io: FdSinkIo = nodeIo, busyWaitMs = BUSY_WAIT_MS): FdSink {
  // Lines are encoded into this buffer as they come (encoding one short line is cheaper than a rope of
  // hundreds of them at flush time), and leave from it in one write.
  const pending = Buffer.allocUnsafe(MAX_PENDING);
  let used = 0;
  let scheduled = false;
  let broken = false;
  let lastFlushAt = -Infinity;

  const writeAll = (bytes: Buffer): void => {
    let buf = bytes;
    for (let waited = 0; buf.length > 0; ) {
      try {
        buf = buf.subarray(io.writeSync(fd, buf));
      } catch (err) {
        if (!busy(err as NodeJS.ErrnoException)) {
          broken = true;
          return;
        }
        if (waited >= busyWaitMs) return;
        Atomics.wait(pause, 0, 0, BUSY_SLEEP_MS);
        waited += BUSY_SLEEP_MS;
      }
    }
  };

  const flush = (): void => {
    scheduled = false;
    if (broken || used === 0) return;
    lastFlushAt = io.now();
    writeAll(pending.subarray(0, used));
    used = 0;
  };

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    const waitMs = lastFlushAt + FLUSH_GAP_MS - io.now();
    if (waitMs <= 0) setImmediate(flush);
    else setTimeout(flush, Math.ceil(waitMs)); // whole ms: Node keeps one timer list per distinct duration
  };

  /** Makes room for maxBytes (sending what is pending first if need be); false if it can never fit. */
  const room = (maxBytes: number): boolean => {
    if (maxBytes > MAX_PENDING - used) {
      flush(); // a callback still scheduled finds nothing, or only later lines, to write
      if (maxBytes > MAX_PENDING) return false;
    }
    return true;
  };

  return {
    write(chunk) {
      if (broken) return;
      // A UTF-16 code unit is at most 3 UTF-8 bytes: a line that may not fit sends what is pending first.
      if (!room(chunk.length * 3)) {
        writeAll(Buffer.from(chunk)); // a line longer than the buffer leaves on its own
        return;
      }
      used += pending.write(chunk, used);
      schedule();
    },
    claim(maxBytes) {
      return room(maxBytes) && !broken ? used : -1; // the flush room() made may have found the fd gone
    },
    bytes: pending,
    commit(end) {
      used = end;
      schedule();
    },
    flushSync: flush,
  };
}
