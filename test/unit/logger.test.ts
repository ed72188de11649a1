import { createFdSink } from '../../src/log/fd-sink.js';
import { describe, expect, it } from 'vitest';
import { createLogger, escapeControls, goLogTime } from '../../src/log/logger.js';
import { MemorySink } from '../helpers/watchdog.js';

const GO_TIME = /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/;

describe('logger', () => {
  it('formats time like Go log: YYYY/MM/DD HH:MM:SS in local time', () => {
    const ms = new Date(2026, 0, 2, 3, 4, 5).getTime();
    expect(goLogTime(ms)).toBe('2026/01/02 03:04:05');
    expect(goLogTime()).toMatch(GO_TIME);
  });

  it('writes JSON lines with level, time and msg by default', () => {
    const err = new MemorySink();
    const log = createLogger({ format: 'json', prefixLogs: true, err, out: new MemorySink() });
    log.info('Listening on port: 8080');
    log.warn('careful', { url: '/x' });
    const [a, b] = err.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({ level: 30, levelName: 'info', msg: 'Listening on port: 8080' });
    expect(typeof a?.time).toBe('number');
    expect(b).toMatchObject({ level: 40, msg: 'careful', url: '/x' });
  });

  it("writes the originals' text shape with log_format=text", () => {
    const err = new MemorySink();
    const log = createLogger({ format: 'text', prefixLogs: true, err, out: new MemorySink() });
    log.info('Listening on port: 8080');
    log.error('failed', { code: 2, why: 'two words' });
    expect(err.lines[0]).toMatch(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} Listening on port: 8080$/);
    expect(err.lines[1]).toMatch(/ failed code=2 why="two words"$/);
  });

  it("writes the access line exactly as info('request', fields) writes the same record, in both formats", () => {
    const err = new MemorySink();
    const log = createLogger({ format: 'json', prefixLogs: true, err, out: new MemorySink() });
    const entries = [
      { method: 'POST', url: '/a?q="x"\\\u0001é', status: 200, bytes: 2, seconds: 0.0123456, callId: undefined },
      {
        method: 'GET',
        url: '/',
        status: 504,
        bytes: 0,
        seconds: 1.5,
        callId: 'call-42',
        trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' },
      },
    ];
    for (const e of entries) {
      log.request(e);
      log.info('request', {
        method: e.method,
        url: e.url,
        status: e.status,
        bytes: e.bytes,
        durationMs: Math.round(e.seconds * 1e6) / 1000,
        callId: e.callId,
        trace_id: e.trace?.traceId,
        span_id: e.trace?.spanId,
      });
    }
    const noTime = (l: string): string => l.replace(/"time":\d+/, '"time":0');
    expect(err.lines).toHaveLength(4);
    expect(noTime(err.lines[0] as string)).toBe(noTime(err.lines[1] as string));
    expect(noTime(err.lines[2] as string)).toBe(noTime(err.lines[3] as string));
    expect(JSON.parse(err.lines[2] as string)).toMatchObject({
      callId: 'call-42',
      durationMs: 1500,
      status: 504,
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
    });

    const text = new MemorySink();
    createLogger({ format: 'text', prefixLogs: true, err: text, out: new MemorySink(), textCallIds: true }).request({
      method: 'GET',
      url: '/who',
      status: 200,
      bytes: 2048,
      seconds: 0.5,
      callId: 'c-1',
    });
    expect(text.lines[0]).toMatch(
      /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} GET \/who - 200 - ContentLength: 2\.048kB \(0\.5000s\) \[c-1\]$/,
    );
  });

  it('writes the same JSON access line as bytes into an fd sink as info() writes as a string', () => {
    const written: string[] = [];
    const sink = createFdSink(9, { writeSync: (_fd, buf) => (written.push(buf.toString()), buf.length), now: () => 0 });
    const log = createLogger({ format: 'json', prefixLogs: true, err: sink, out: new MemorySink() });
    const e = { method: 'POST', url: '/a?q="x"\\\u0001é', status: 201, bytes: 7, seconds: 0.0123456, callId: 'c-1' };
    log.request(e);
    log.info('request', {
      method: e.method,
      url: e.url,
      status: e.status,
      bytes: e.bytes,
      durationMs: Math.round(e.seconds * 1e6) / 1000,
      callId: e.callId,
    });
    sink.flushSync();
    const lines = written.join('').split('\n');
    const noTime = (l: string): string => l.replace(/"time":\d+/, '"time":0');
    expect(lines).toHaveLength(3);
    expect(noTime(lines[0] as string)).toBe(noTime(lines[1] as string));
  });

  it('drops debug lines unless debug is on', () => {
    const err = new MemorySink();
    createLogger({ format: 'text', prefixLogs: true, err, out: new MemorySink() }).debug('hidden');
    createLogger({ format: 'text', prefixLogs: true, err, out: new MemorySink(), debug: true }).debug('shown');
    expect(err.lines).toHaveLength(1);
    expect(err.lines[0]).toMatch(/ shown$/);
  });

  it('prefixes function output lines with time and stream name in text format', () => {
    const err = new MemorySink();
    const out = new MemorySink();
    const log = createLogger({ format: 'text', prefixLogs: true, err, out });
    log.functionLine('stderr', 'boom');
    log.functionLine('stdout', 'hello');
    expect(err.lines[0]).toMatch(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} stderr: boom$/);
    expect(out.lines[0]).toMatch(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} stdout: hello$/);
  });

  it('wraps function output lines as JSON with the stream name in json format', () => {
    const err = new MemorySink();
    const log = createLogger({ format: 'json', prefixLogs: true, err, out: new MemorySink() });
    log.functionLine('stderr', 'say "hi"');
    expect(JSON.parse(err.lines[0] as string)).toMatchObject({ level: 30, stream: 'stderr', msg: 'say "hi"' });
  });

  it('passes function output lines through untouched with prefix_logs=false, in both formats', () => {
    for (const format of ['json', 'text'] as const) {
      const err = new MemorySink();
      const log = createLogger({ format, prefixLogs: false, err, out: new MemorySink() });
      log.functionLine('stderr', '{"app":"json log"}');
      expect(err.lines).toEqual(['{"app":"json log"}']);
    }
  });
});

describe('text lines and control characters (issue #22)', () => {
  it('escapes newlines, carriage returns and other control characters but tab in the message, fields and access line', () => {
    const err = new MemorySink();
    const log = createLogger({ format: 'text', prefixLogs: true, err, out: new MemorySink() });
    log.info('Path  /a\n2031/01/01 00:00:00 forged\r\x1b[2J\x85');
    log.warn('x', { url: '/b\nforged', tab: 'a\tb', bell: '/d\x07' });
    log.request({
      method: 'GET',
      url: '/c\n2031/01/01 forged',
      status: 200,
      bytes: 1,
      seconds: 0.001,
      callId: undefined,
    });
    expect(err.lines).toHaveLength(3);
    expect(err.lines[0]).toMatch(/ Path {2}\/a\\n2031\/01\/01 00:00:00 forged\\r\\x1b\[2J\\x85$/);
    expect(err.lines[1]).toMatch(/ x url="\/b\\nforged" tab="a\\tb" bell=\/d\\x07$/);
    expect(err.lines[2]).toContain(' GET /c\\n2031/01/01 forged - 200 - ');
    expect(escapeControls('plain\ttext')).toBe('plain\ttext');
  });
});
