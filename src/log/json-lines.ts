// The watchdog's JSON log lines, byte for byte the shape pino wrote for them:
//   {"level":30,"levelName":"info","time":1796538734026,"url":"/x","msg":"..."}
// Built directly: pino's module graph (nine packages, node:worker_threads, node:assert through
// sonic-boom) cost more of the start-up than everything else the watchdog loads before ready.

export type JsonFields = Record<string, unknown>;

export interface JsonLines {
  debug(fields: JsonFields, msg: string): void;
  info(fields: JsonFields, msg: string): void;
  warn(fields: JsonFields, msg: string): void;
  error(fields: JsonFields, msg: string): void;
}

/** One field's JSON value, or undefined to leave it out (as pino did for undefined and functions). */
function jsonValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return String(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    default:
      if (value instanceof Error) return JSON.stringify({ type: value.name, message: value.message, stack: value.stack });
      try {
        return JSON.stringify(value) ?? undefined;
      } catch {
        // A circular structure: its text form rather than nothing.
        return JSON.stringify(String(value));
      }
  }
}

/** The line for `msg` with `fields`, at numeric `level` named `name`, ending in a newline. */
export function jsonLine(level: number, name: string, fields: JsonFields, msg: string, now: number = Date.now()): string {
  let line = `{"level":${level},"levelName":"${name}","time":${now}`;
  for (const key in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, key)) continue;
    const value = jsonValue(fields[key]);
    if (value !== undefined) line += `,${JSON.stringify(key)}:${value}`;
  }
  return `${line},"msg":${JSON.stringify(msg)}}\n`;
}

/** A number as JSON (non-finite ones as null, as jsonLine writes them). */
function jsonNumber(n: number): string | number {
  return Number.isFinite(n) ? n : 'null';
}

/** Methods as JSON strings, remembered (a request's method is one of a handful). */
const quotedMethods = new Map<string, string>();
const MAX_QUOTED_METHODS = 64;

function quotedMethod(method: string): string {
  let quoted = quotedMethods.get(method);
  if (quoted === undefined) {
    quoted = JSON.stringify(method);
    if (quotedMethods.size < MAX_QUOTED_METHODS) quotedMethods.set(method, quoted);
  }
  return quoted;
}

/** The last `time` written, as text: lines under load share their millisecond. */
let lastTime = -1;
let lastTimeText = '';

function timeText(now: number): string {
  if (now !== lastTime) {
    lastTime = now;
    lastTimeText = String(now);
  }
  return lastTimeText;
}

/**
 * `micros / 1000` as JSON writes that number (`12.346`, `1.5`, `2`), from the integer: turning a fraction
 * into its shortest text is the dearest step of an access line.
 */
export function millisText(micros: number): string {
  if (!Number.isSafeInteger(micros) || micros < 0 || micros >= 1e12) return String(jsonNumber(micros / 1000));
  const whole = Math.floor(micros / 1000);
  const frac = micros - whole * 1000;
  if (frac === 0) return String(whole);
  if (frac % 100 === 0) return `${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/**
 * The access line of one request: the very bytes jsonLine(30, 'info', { method, url, status, bytes,
 * durationMs: durationMicros / 1000, callId }, 'request') gives (tests hold them equal), built without
 * walking an object: it is written for every request.
 */
export function jsonAccessLine(method: string | undefined, url: string | undefined, status: number, bytes: number, durationMicros: number, callId: string | undefined, now: number = Date.now()): string {
  const m = method === undefined ? '' : `,"method":${quotedMethod(method)}`;
  const u = url === undefined ? '' : `,"url":${JSON.stringify(url)}`;
  const c = callId === undefined ? '' : `,"callId":${JSON.stringify(callId)}`;
  return `{"level":30,"levelName":"info","time":${timeText(now)}${m}${u},"status":${jsonNumber(status)},"bytes":${jsonNumber(bytes)},"durationMs":${millisText(durationMicros)}${c},"msg":"request"}\n`;
}

/** Writes JSON lines to `sink`; debug lines only when `debug` is on. */
export function createJsonLines(sink: { write(chunk: string): unknown }, debug: boolean): JsonLines {
  return {
    debug: debug ? (fields, msg) => sink.write(jsonLine(20, 'debug', fields, msg)) : () => {},
    info: (fields, msg) => sink.write(jsonLine(30, 'info', fields, msg)),
    warn: (fields, msg) => sink.write(jsonLine(40, 'warn', fields, msg)),
    error: (fields, msg) => sink.write(jsonLine(50, 'error', fields, msg)),
  };
}
