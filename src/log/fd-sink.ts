// Where the watchdog's lines go: an fd (1 or 2). The lines written during one turn of the event loop
// leave together, in one synchronous write, once the turn's I/O is done (setImmediate): always in order
// (an exit's last lines included), no thread, and a log reader that falls behind slows the watchdog down,
// as Go's log does, instead of growing its memory. Under load that is one write for many access lines.
import { writeSync } from 'node:fs';

export interface FdSink {
  write(chunk: string): void;
  /** Writes what is pending now (before process.exit). */
  flushSync(): void;
}

/** The fs call a sink makes (tests give fakes that fail or write partially). */
export interface FdSinkIo {
  writeSync(fd: number, buf: Buffer): number;
}

const nodeIo: FdSinkIo = { writeSync: (fd, buf) => writeSync(fd, buf, 0, buf.length, null) };

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
  let pending = '';
  let scheduled = false;
  let broken = false;

  const writeAll = (text: string): void => {
    let buf = Buffer.from(text);
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
    if (broken || pending === '') return;
    const text = pending;
    pending = '';
    writeAll(text);
  };

  return {
    write(chunk) {
      if (broken) return;
      pending += chunk;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flushSync: flush,
  };
}
