import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFdSink, type FdSinkIo } from '../../src/log/fd-sink.js';
import { jsonLine } from '../../src/log/json-lines.js';
import { until } from '../helpers/process.js';
import { makeTmpDir } from '../helpers/watchdog.js';

/** An fd sink's fs calls recorded; each async write waits until `finish` is called. */
function recordingIo(): { io: FdSinkIo; writes: string[]; pending: Array<(err: NodeJS.ErrnoException | null, n: number) => void>; sync: string[]; partial?: number; failSync?: string } {
  const rec = {
    writes: [] as string[],
    pending: [] as Array<(err: NodeJS.ErrnoException | null, n: number) => void>,
    sync: [] as string[],
    io: {} as FdSinkIo,
  };
  rec.io = {
    write: (_fd, buf, cb) => {
      rec.writes.push(buf.toString());
      rec.pending.push(cb);
    },
    writeSync: (_fd, buf) => {
      rec.sync.push(buf.toString());
      return buf.length;
    },
  };
  return rec;
}

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

describe('fd sink', () => {
  it('writes lines to a file in order, batching what arrives while a write is in flight', async () => {
    const file = join(makeTmpDir('fwd-sink-'), 'log');
    const fd = openSync(file, 'w');
    try {
      const sink = createFdSink(fd);
      for (let i = 0; i < 1000; i++) sink.write(`line ${i}\n`);
      const want = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('');
      await until(() => readFileSync(file, 'utf8').length === want.length, 2000, 'the lines to be written');
      expect(readFileSync(file, 'utf8')).toBe(want);
    } finally {
      closeSync(fd);
    }
  });

  it('sends queued lines together after the write in flight, at most 16 KiB a write, cut at a line end', () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('first\n');
    const line = `${'x'.repeat(99)}\n`;
    for (let i = 0; i < 300; i++) sink.write(line);
    expect(rec.writes).toEqual(['first\n']);
    rec.pending.shift()?.(null, 6);
    expect(rec.writes[1]).toBe(line.repeat(163));
    rec.pending.shift()?.(null, 16300);
    expect(rec.writes[2]).toBe(line.repeat(137));
  });

  it('writes the rest of a partial write before anything else', () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('abcdef\n');
    sink.write('next\n');
    rec.pending.shift()?.(null, 3);
    expect(rec.writes[1]).toBe('def\n');
    rec.pending.shift()?.(null, 4);
    expect(rec.writes[2]).toBe('next\n');
  });

  it('retries after EAGAIN, and flushSync writes a chunk waiting for its retry and the queue, in order', () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('one\n');
    sink.write('two\n');
    rec.pending.shift()?.(errno('EAGAIN'), 0);
    expect(rec.writes).toEqual(['one\n']);
    sink.flushSync();
    expect(rec.sync).toEqual(['one\ntwo\n']);
  });

  it('leaves a write in flight to finish and flushes only the queue', () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('one\n');
    sink.write('two\n');
    sink.flushSync();
    expect(rec.sync).toEqual(['two\n']);
    rec.pending.shift()?.(null, 4);
    expect(rec.writes).toEqual(['one\n']);
  });

  it('stops writing, without throwing, once the fd fails for good (EPIPE)', () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('one\n');
    sink.write('two\n');
    rec.pending.shift()?.(errno('EPIPE'), 0);
    sink.write('three\n');
    sink.flushSync();
    expect(rec.writes).toEqual(['one\n']);
    expect(rec.sync).toEqual([]);
  });
});

describe('JSON lines', () => {
  it('has the shape pino wrote: level, levelName, time, the fields, msg last', () => {
    expect(jsonLine(40, 'warn', { url: '/x', n: 2, ok: true, gone: undefined }, 'say "hi"', 1234)).toBe('{"level":40,"levelName":"warn","time":1234,"url":"/x","n":2,"ok":true,"msg":"say \\"hi\\""}\n');
  });

  it('writes non-finite numbers as null, errors as type/message/stack, and circular objects as text', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const err = new TypeError('bad');
    const parsed = JSON.parse(jsonLine(50, 'error', { nan: Number.NaN, err, circular }, 'm', 1)) as Record<string, unknown>;
    expect(parsed.nan).toBeNull();
    expect(parsed.err).toEqual({ type: 'TypeError', message: 'bad', stack: err.stack });
    expect(parsed.circular).toBe('[object Object]');
  });
});
