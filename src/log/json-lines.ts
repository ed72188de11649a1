// The watchdog's JSON log lines, byte for byte the shape pino wrote for them:
//   {"level":30,"levelName":"info","time":1796538734026,"url":"/x","msg":"..."}
// Built directly: pino's module graph (nine packages, node:worker_threads, node:assert through
// sonic-boom) cost more of the start-up than everything else the watchdog loads before ready.

export type JsonFields = Record<string, unknown>;

/** The W3C trace context ids an access line carries (lower-case hex: 32 and 16 characters). */
export interface TraceIds {
  readonly traceId: string;
  readonly spanId: string;
}

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
      if (value instanceof Error)
        return JSON.stringify({ type: value.name, message: value.message, stack: value.stack });
      try {
        return JSON.stringify(value) ?? undefined;
      } catch {
        // A circular structure: its text form rather than nothing.
        return JSON.stringify(String(value));
      }
  }
}

/** The line for `msg` with `fields`, at numeric `level` named `name`, ending in a newline. */
export function jsonLine(
  level: number,
  name: string,
  fields: JsonFields,
  msg: string,
  now: number = Date.now(),
): string {
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

// The access line of one request, written as bytes straight into a sink's buffer: no string is built,
// joined or encoded for it. It is every request's one log line, and building it as a string cost more
// than all the watchdog's other per-request work (docs/inproc.md, "Performance"). Its bytes are those
// of jsonLine(30, 'info', { method, url, status, bytes, durationMs: durationMicros / 1000, callId, trace_id, span_id },
// 'request') (tests hold them equal).
const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const ACCESS_HEAD = ascii('{"level":30,"levelName":"info","time":');
const METHOD_KEY = ascii(',"method":');
const URL_KEY = ascii(',"url":');
const STATUS_KEY = ascii(',"status":');
const BYTES_KEY = ascii(',"bytes":');
const DURATION_KEY = ascii(',"durationMs":');
const CALL_ID_KEY = ascii(',"callId":');
const TRACE_ID_KEY = ascii(',"trace_id":');
const SPAN_ID_KEY = ascii(',"span_id":');
const ACCESS_TAIL = ascii(',"msg":"request"}\n');

/** The most bytes writeJsonAccessLine writes for these strings: a JSON-escaped UTF-16 unit is at most 6 bytes. */
export function accessLineMaxBytes(
  method: string | undefined,
  url: string | undefined,
  callId: string | undefined,
): number {
  return 320 + 6 * ((method?.length ?? 0) + (url?.length ?? 0) + (callId?.length ?? 0));
}

/** Writes the digits of a non-negative safe integer at `at`; returns the end. */
function writeUint(buf: Buffer, at: number, n: number): number {
  let end = at + 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) end++;
  for (let i = end - 1, m = n; i >= at; i--) {
    const q = Math.floor(m / 10);
    buf[i] = 48 + (m - q * 10);
    m = q;
  }
  return end;
}

function writeText(buf: Buffer, at: number, text: string): number {
  return at + buf.write(text, at, 'utf8');
}

function writeNumber(buf: Buffer, at: number, n: number): number {
  return Number.isSafeInteger(n) && n >= 0 ? writeUint(buf, at, n) : writeText(buf, at, String(jsonNumber(n)));
}

/** micros / 1000 as JSON writes that number (`12.346`, `1.5`, `2`), from the integer: no fraction turned into text. */
function writeMillis(buf: Buffer, at: number, micros: number): number {
  if (!Number.isSafeInteger(micros) || micros < 0 || micros >= 1e12)
    return writeText(buf, at, String(jsonNumber(micros / 1000)));
  const whole = Math.floor(micros / 1000);
  let frac = micros - whole * 1000;
  let end = writeUint(buf, at, whole);
  if (frac === 0) return end;
  buf[end++] = 46; // .
  let digits = 3;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  for (let i = digits - 1; i >= 0; i--) {
    buf[end + i] = 48 + (frac % 10);
    frac = Math.floor(frac / 10);
  }
  return end + digits;
}

/** `text` as a JSON string: printable ASCII is copied byte by byte; anything else goes through JSON.stringify. */
function writeJsonString(buf: Buffer, at: number, text: string): number {
  let end = at;
  buf[end++] = 34; // "
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 34 || c === 92) return writeText(buf, at, JSON.stringify(text));
    buf[end++] = c;
  }
  buf[end++] = 34;
  return end;
}

function writeBytes(buf: Buffer, at: number, bytes: Buffer): number {
  buf.set(bytes, at);
  return at + bytes.length;
}

/** The access line written into `buf` at `at` (which has accessLineMaxBytes() of room); returns the end. */
export function writeJsonAccessLine(
  buf: Buffer,
  at: number,
  method: string | undefined,
  url: string | undefined,
  status: number,
  bytes: number,
  durationMicros: number,
  callId: string | undefined,
  trace?: TraceIds,
  now: number = Date.now(),
): number {
  let end = writeBytes(buf, at, ACCESS_HEAD);
  end = writeNumber(buf, end, now);
  if (method !== undefined) end = writeJsonString(buf, writeBytes(buf, end, METHOD_KEY), method);
  if (url !== undefined) end = writeJsonString(buf, writeBytes(buf, end, URL_KEY), url);
  end = writeNumber(buf, writeBytes(buf, end, STATUS_KEY), status);
  end = writeNumber(buf, writeBytes(buf, end, BYTES_KEY), bytes);
  end = writeMillis(buf, writeBytes(buf, end, DURATION_KEY), durationMicros);
  if (callId !== undefined) end = writeJsonString(buf, writeBytes(buf, end, CALL_ID_KEY), callId);
  if (trace !== undefined) {
    end = writeJsonString(buf, writeBytes(buf, end, TRACE_ID_KEY), trace.traceId);
    end = writeJsonString(buf, writeBytes(buf, end, SPAN_ID_KEY), trace.spanId);
  }
  return writeBytes(buf, end, ACCESS_TAIL);
}

/** The access line as a string, for a line longer than a sink's buffer or a sink that takes no bytes. */
export function jsonAccessLine(
  method: string | undefined,
  url: string | undefined,
  status: number,
  bytes: number,
  durationMicros: number,
  callId: string | undefined,
  trace?: TraceIds,
  now: number = Date.now(),
): string {
  const buf = Buffer.allocUnsafe(accessLineMaxBytes(method, url, callId));
  return buf.toString(
    'utf8',
    0,
    writeJsonAccessLine(buf, 0, method, url, status, bytes, durationMicros, callId, trace, now),
  );
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
