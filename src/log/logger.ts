// The watchdog's logger: JSON lines (pino's shape) or the originals' text lines, plus function output lines.
import {
  accessLineMaxBytes,
  createJsonLines,
  jsonAccessLine,
  writeJsonAccessLine,
  type TraceIds,
} from './json-lines.js';
import type { LogFormat } from '../config/variables.js';
import { humanSize } from './human-size.js';

export type Fields = Record<string, unknown>;

/** Where lines go; anything with a write(string) method (a sonic-boom destination, a test sink). */
export interface Sink {
  write(chunk: string): unknown;
}

/** A sink that also takes lines written as bytes into its buffer (src/log/fd-sink.ts). */
export interface ByteSink extends Sink {
  /**
   * Room for a line of at most `maxBytes` written as bytes: the offset in `bytes` to write at, then
   * commit(end) with where the line ends; or -1 (it cannot take it now): write() a string instead.
   */
  claim(maxBytes: number): number;
  readonly bytes: Buffer;
  commit(end: number): void;
}

function isByteSink(sink: Sink): sink is ByteSink {
  return typeof (sink as Partial<ByteSink>).claim === 'function';
}

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** The access line of one function request (info level), in the configured format. */
  request(entry: AccessEntry): void;
  /** One line of function output (without its newline), written to the matching stream; `callId` when the call is known. */
  functionLine(stream: 'stdout' | 'stderr', line: string, callId?: string): void;
  /** Whether debug lines are written (callers skip building them otherwise). */
  readonly debugEnabled: boolean;
}

/** What the access line of a function request says. */
export interface AccessEntry {
  method: string | undefined;
  url: string | undefined;
  status: number;
  bytes: number;
  seconds: number;
  /** The call id (the X-Call-Id header, or one made for the call): always in JSON, in text with log_callid. */
  callId: string | undefined;
  /** W3C trace context of the call (the incoming traceparent's, or the watchdog's span's), when there is one. */
  trace?: TraceIds | undefined;
}

export interface LoggerOptions {
  format: LogFormat;
  prefixLogs: boolean;
  /** The watchdog's own lines and function stderr. */
  err: Sink;
  /** Function stdout (http mode). */
  out: Sink;
  debug?: boolean;
  /** Text format: call ids (and trace ids) on the access line and function lines (log_callid). JSON always has them. */
  textCallIds?: boolean;
}

/** Formats local time as Go's log package does: 2006/01/02 15:04:05. Cached per second. */
let cachedSecond = -1;
let cachedStamp = '';
export function goLogTime(nowMs: number = Date.now()): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedSecond) {
    const d = new Date(nowMs);
    const p = (n: number): string => (n < 10 ? `0${n}` : String(n));
    cachedStamp = `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    cachedSecond = second;
  }
  return cachedStamp;
}

/** C0 controls but tab, DEL and C1 controls: a newline or carriage return in a text line would forge another line. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
const escapeControl = (c: string): string =>
  c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** `text` with every control character but tab written as `\n`, `\r` or `\xNN`, for a text log line. */
export function escapeControls(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROLS, escapeControl) : text;
}

export function createLogger(options: LoggerOptions): Logger {
  const { err, out, prefixLogs } = options;
  const debugEnabled = options.debug === true;

  const textIds = options.textCallIds === true;
  const functionLine = prefixLogs
    ? options.format === 'json'
      ? (stream: 'stdout' | 'stderr', line: string, callId?: string): void => {
          const id = callId === undefined ? '' : `,"callId":${JSON.stringify(callId)}`;
          (stream === 'stdout' ? out : err).write(
            `{"level":30,"levelName":"info","time":${Date.now()},"stream":"${stream}"${id},"msg":${JSON.stringify(line)}}\n`,
          );
        }
      : (stream: 'stdout' | 'stderr', line: string, callId?: string): void => {
          (stream === 'stdout' ? out : err).write(
            textIds && callId !== undefined
              ? `${goLogTime()} ${stream} [${callId}]: ${line}\n`
              : `${goLogTime()} ${stream}: ${line}\n`,
          );
        }
    : (stream: 'stdout' | 'stderr', line: string): void => {
        (stream === 'stdout' ? out : err).write(`${line}\n`);
      };

  if (options.format === 'json') {
    const p = createJsonLines(err, debugEnabled);
    const noop = (): void => {};
    return {
      debugEnabled,
      debug: debugEnabled ? (msg, fields) => p.debug(fields ?? {}, msg) : noop,
      info: (msg, fields) => p.info(fields ?? {}, msg),
      warn: (msg, fields) => p.warn(fields ?? {}, msg),
      error: (msg, fields) => p.error(fields ?? {}, msg),
      request: isByteSink(err)
        ? (e) => byteAccessLine(err, e)
        : (e) =>
            err.write(
              jsonAccessLine(e.method, e.url, e.status, e.bytes, Math.round(e.seconds * 1e6), e.callId, e.trace),
            ),
      functionLine,
    };
  }

  // Text: the originals' shape, `YYYY/MM/DD HH:MM:SS message`, fields appended as key=value; one
  // line each, so control characters from a request (a `%0a` decoded in a path) are escaped.
  const line = (msg: string, fields?: Fields): void => {
    let text = `${goLogTime()} ${escapeControls(msg)}`;
    if (fields) {
      for (const key of Object.keys(fields)) {
        const v = fields[key];
        if (v === undefined) continue;
        text += ` ${key}=${typeof v === 'string' && !/\s/.test(v) ? escapeControls(v) : JSON.stringify(v)}`;
      }
    }
    err.write(`${text}\n`);
  };
  return {
    debugEnabled,
    debug: debugEnabled ? line : () => {},
    info: line,
    warn: line,
    error: line,
    // The originals' access line: `POST / - 200 - ContentLength: 2B (0.0012s)`.
    request: (e) => {
      err.write(
        `${goLogTime()} ${e.method} ${e.url === undefined ? e.url : escapeControls(e.url)} - ${e.status} - ContentLength: ${humanSize(e.bytes)} (${e.seconds.toFixed(4)}s)${textIds && e.callId !== undefined ? textIdsOf(e.callId, e.trace) : ''}\n`,
      );
    },
    functionLine,
  };
}

/** The JSON access line written as bytes into the sink's buffer (a string only when it cannot take them). */
function byteAccessLine(sink: ByteSink, e: AccessEntry): void {
  const micros = Math.round(e.seconds * 1e6);
  const at = sink.claim(accessLineMaxBytes(e.method, e.url, e.callId));
  if (at < 0) sink.write(jsonAccessLine(e.method, e.url, e.status, e.bytes, micros, e.callId, e.trace));
  else sink.commit(writeJsonAccessLine(sink.bytes, at, e.method, e.url, e.status, e.bytes, micros, e.callId, e.trace));
}

/** The text access line's ids: ` [<call id>]`, then ` trace_id=… span_id=…` when the call has a trace. */
function textIdsOf(callId: string, trace: TraceIds | undefined): string {
  return trace === undefined ? ` [${callId}]` : ` [${callId}] trace_id=${trace.traceId} span_id=${trace.spanId}`;
}
