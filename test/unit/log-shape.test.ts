// Every JSON line the watchdog writes has one shape: level, levelName, time, the fields, msg last.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { MemorySink } from '../helpers/watchdog.js';

const LEVEL_NAMES: Record<number, string> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error' };

/** The keys of a JSON line in their order, and the parsed line. */
function shape(line: string): { keys: string[]; record: Record<string, unknown> } {
  const record = JSON.parse(line) as Record<string, unknown>;
  return { keys: Object.keys(record), record };
}

describe('log_format=json: one shape for every line', () => {
  it("gives the watchdog's own lines, the access line and function output lines level, levelName and time first, msg last", () => {
    const err = new MemorySink();
    const out = new MemorySink();
    const log = createLogger({ format: 'json', prefixLogs: true, err, out, debug: true });
    log.debug('a debug line', { url: '/d' });
    log.info('Listening on port: 8080');
    log.warn('careful', { url: '/x' });
    log.error('failed', { err: 'Error: boom\n    at x.js:1' });
    log.request({ method: 'POST', url: '/', status: 200, bytes: 2, seconds: 0.01, callId: 'c-1' });
    log.functionLine('stderr', 'a function line on stderr');
    log.functionLine('stdout', 'a function line on stdout');
    const lines = [...err.lines, ...out.lines];
    expect(lines).toHaveLength(7);
    for (const line of lines) {
      const { keys, record } = shape(line);
      expect(keys.slice(0, 3), line).toEqual(['level', 'levelName', 'time']);
      expect(keys.at(-1), line).toBe('msg');
      expect(record.levelName, line).toBe(LEVEL_NAMES[record.level as number]);
      expect(typeof record.time, line).toBe('number');
    }
    expect(shape(out.lines[0] as string).record).toEqual({
      level: 30,
      levelName: 'info',
      time: expect.any(Number),
      stream: 'stdout',
      msg: 'a function line on stdout',
    });
  });
});
