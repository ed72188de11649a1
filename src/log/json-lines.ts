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

/**
 * The access line of one request: the very bytes jsonLine(30, 'info', { method, url, status, bytes,
 * durationMs, callId }, 'request') gives (a test holds them equal), built without walking an object:
 * it is written for every request.
 */
export function jsonAccessLine(method: string | undefined, url: string | undefined, status: number, bytes: number, durationMs: number, callId: string | undefined, now: number = Date.now()): string {
  const m = method === undefined ? '' : `,"method":${JSON.stringify(method)}`;
  const u = url === undefined ? '' : `,"url":${JSON.stringify(url)}`;
  const c = callId === undefined ? '' : `,"callId":${JSON.stringify(callId)}`;
  return `{"level":30,"levelName":"info","time":${now}${m}${u},"status":${jsonNumber(status)},"bytes":${jsonNumber(bytes)},"durationMs":${jsonNumber(durationMs)}${c},"msg":"request"}\n`;
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
