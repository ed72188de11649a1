import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLUSH_GAP_MS, MAX_PENDING, createFdSink, type FdSinkIo } from '../../src/log/fd-sink.js';
import { accessLineMaxBytes, jsonAccessLine, jsonLine, writeJsonAccessLine } from '../../src/log/json-lines.js';
import { makeTmpDir } from '../helpers/watchdog.js';

/** An fd sink's writes recorded; `script` says what each call does (a byte count to write, or an error code). */
function recordingIo(script: Array<number | string> = []): { io: FdSinkIo; writes: string[]; clock: { ms: number } } {
  const writes: string[] = [];
  const clock = { ms: 0 };
  return {
    writes,
    clock,
    io: {
      now: () => clock.ms,
      writeSync: (_fd, buf) => {
        const step = script.shift();
        if (typeof step === 'string') throw Object.assign(new Error(step), { code: step });
        const n = Math.min(step ?? buf.length, buf.length);
        writes.push(buf.subarray(0, n).toString());
        return n;
      },
    },
  };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('fd sink', () => {
  it('writes lines to a file in order, the lines of one event-loop turn in one write', async () => {
    const file = join(makeTmpDir('fwd-sink-'), 'log');
    const fd = openSync(file, 'w');
    try {
      const sink = createFdSink(fd);
      for (let i = 0; i < 1000; i++) sink.write(`line ${i}\n`);
      expect(readFileSync(file, 'utf8')).toBe(''); // not before the turn's I/O is done
      await nextTurn();
      expect(readFileSync(file, 'utf8')).toBe(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(''));
    } finally {
      closeSync(fd);
    }
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('a\n');
    sink.write('b\n');
    await nextTurn();
    rec.clock.ms += FLUSH_GAP_MS; // a quiet spell: the next line leaves at the end of its turn too
    sink.write('c\n');
    await nextTurn();
    await nextTurn();
    expect(rec.writes).toEqual(['a\nb\n', 'c\n']);
  });

  it('while lines keep coming, writes them together once the gap since the last write has passed', async () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('a\n');
    await nextTurn();
    expect(rec.writes).toEqual(['a\n']);
    rec.clock.ms += 1; // 1 ms after that write: the next lines wait for the rest of the gap
    sink.write('b\n');
    await nextTurn();
    sink.write('c\n');
    await nextTurn();
    expect(rec.writes).toEqual(['a\n']);
    await new Promise((r) => setTimeout(r, FLUSH_GAP_MS + 20));
    expect(rec.writes).toEqual(['a\n', 'b\nc\n']);
  });

  it('writes at once, within write(), once the MAX_PENDING-byte buffer is full, and a longer line on its own', () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    const lines = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, '0')} ${'é'.repeat(400)}\n`); // 805 bytes each
    for (const line of lines) sink.write(line);
    expect(rec.writes.length).toBeGreaterThan(0); // without waiting for a turn
    const huge = 'x'.repeat(MAX_PENDING);
    sink.write(huge);
    sink.flushSync();
    for (const w of rec.writes) expect(Buffer.byteLength(w) <= MAX_PENDING || w === huge).toBe(true);
    expect(rec.writes.join('')).toBe(lines.join('') + huge);
    expect(rec.writes.at(-1)).toBe(huge);
  });

  it('writes the rest of a partial write, and tries again while a non-blocking fd is full (EAGAIN)', async () => {
    const rec = recordingIo([3, 'EAGAIN', 'EAGAIN', 2]);
    const sink = createFdSink(9, rec.io);
    sink.write('abcdef\n');
    sink.write('next\n');
    await nextTurn();
    expect(rec.writes.join('')).toBe('abcdef\nnext\n');
    expect(rec.writes.slice(0, 2)).toEqual(['abc', 'de']);
  });

  it('drops the batch when the fd stays full longer than the wait, and writes the next one', async () => {
    const rec = recordingIo(['EAGAIN', 'EAGAIN', 'EAGAIN', 'EAGAIN']); // 30 ms in 10 ms steps: four tries;
    const sink = createFdSink(9, rec.io, 30);
    sink.write('lost\n');
    await nextTurn();
    rec.clock.ms += FLUSH_GAP_MS;
    sink.write('later\n');
    await nextTurn();
    expect(rec.writes).toEqual(['later\n']);
  });

  it('flushSync writes what is pending at once, after what was written before it (an exit keeps the order)', () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('one\n');
    sink.flushSync();
    sink.write('two\n');
    sink.flushSync();
    expect(rec.writes).toEqual(['one\n', 'two\n']);
  });

  it('stops writing, without throwing, once the fd fails for good (EPIPE)', async () => {
    const rec = recordingIo(['EPIPE']);
    const sink = createFdSink(9, rec.io);
    sink.write('one\n');
    await nextTurn();
    sink.write('two\n');
    sink.flushSync();
    await nextTurn();
    expect(rec.writes).toEqual([]);
  });
});

describe('fd sink, lines written as bytes', () => {
  it('claim() gives room at the end of the pending bytes; commit() queues them after the lines before', async () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('one\n');
    const at = sink.claim(10);
    expect(at).toBe(4);
    const end = at + sink.bytes.write('two\n', at);
    sink.commit(end);
    sink.write('three\n');
    await nextTurn();
    expect(rec.writes).toEqual(['one\ntwo\nthree\n']);
  });

  it('claim() sends what is pending when the room is short, and refuses more than the buffer or a gone fd', () => {
    const rec = recordingIo();
    const sink = createFdSink(9, rec.io);
    sink.write('x'.repeat(1000));
    expect(sink.claim(MAX_PENDING - 10)).toBe(0); // the 1000 bytes left first, in one write
    expect(rec.writes).toEqual(['x'.repeat(1000)]);
    expect(sink.claim(MAX_PENDING + 1)).toBe(-1); // can never fit
    const gone = createFdSink(9, recordingIo(['EPIPE']).io);
    gone.write('x'.repeat(1000));
    expect(gone.claim(MAX_PENDING - 10)).toBe(-1); // the flush for room found the fd gone (EPIPE)
    expect(gone.claim(10)).toBe(-1);
  });
});

describe('JSON lines', () => {
  it('has the shape pino wrote: level, levelName, time, the fields, msg last', () => {
    expect(jsonLine(40, 'warn', { url: '/x', n: 2, ok: true, gone: undefined }, 'say "hi"', 1234)).toBe(
      '{"level":40,"levelName":"warn","time":1234,"url":"/x","n":2,"ok":true,"msg":"say \\"hi\\""}\n',
    );
  });

  it('writes non-finite numbers as null, errors as type/message/stack, and circular objects as text', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const err = new TypeError('bad');
    const parsed = JSON.parse(jsonLine(50, 'error', { nan: Number.NaN, err, circular }, 'm', 1)) as Record<
      string,
      unknown
    >;
    expect(parsed.nan).toBeNull();
    expect(parsed.err).toEqual({ type: 'TypeError', message: 'bad', stack: err.stack });
    expect(parsed.circular).toBe('[object Object]');
  });

  it('writeJsonAccessLine writes the very bytes of the generic jsonLine, escapes, non-ASCII and odd numbers included', () => {
    const strings = [
      '/',
      '/fn?q=1&b=2',
      '/a "quoted" \\ path',
      '/ctl\u0001\u001f\u007f',
      '/é/日本/😀',
      '/lone\ud800/x',
      '',
      'x'.repeat(3000),
    ];
    const numbers = [
      0,
      2,
      200,
      504,
      1796553299257,
      2 ** 53 - 1,
      2 ** 53 + 2,
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      1e21,
    ];
    const micros = [
      0,
      1,
      5,
      10,
      50,
      99,
      100,
      101,
      110,
      500,
      999,
      1000,
      1001,
      1010,
      1100,
      1500,
      12346,
      60000000,
      123456789,
      999999999999,
      1e12 + 5,
      2 ** 53 + 2,
      -3,
      0.5,
      Number.NaN,
    ];
    for (let i = 0; i < 2000; i++) micros.push(Math.round(Math.random() * 10 ** (1 + (i % 10))));
    const times = [0, 1796553299257, Date.now()];
    const buf = Buffer.alloc(64 * 1024);
    const pick = <T>(list: T[], i: number): T => list[i % list.length] as T;
    for (let i = 0; i < micros.length; i++) {
      const method = i % 7 === 0 ? undefined : pick(['GET', 'POST', 'M-SEARCH', 'X"Y'], i);
      const url = i % 11 === 0 ? undefined : pick(strings, i * 3);
      const callId = i % 2 === 0 ? undefined : pick(strings, i * 5 + 1);
      const [status, bytes, us, now] = [
        pick(numbers, i),
        pick(numbers, i * 7 + 3),
        micros[i] as number,
        pick(times, i),
      ];
      const at = i % 5;
      const end = writeJsonAccessLine(buf, at, method, url, status, bytes, us, callId, undefined, now);
      expect(end - at).toBeLessThanOrEqual(accessLineMaxBytes(method, url, callId));
      const expected = jsonLine(
        30,
        'info',
        { method, url, status, bytes, durationMs: us / 1000, callId },
        'request',
        now,
      );
      expect(buf.subarray(at, end).toString('utf8')).toBe(expected);
      expect(jsonAccessLine(method, url, status, bytes, us, callId, undefined, now)).toBe(expected);
    }
  });
});
