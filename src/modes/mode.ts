// The one interface every mode implements, and what the server core hands each call.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { WatchdogConfig } from '../config/load-config.js';
import type { Logger } from '../log/logger.js';
import type { TraceIds } from '../log/json-lines.js';
import type { StreamReclaim } from '../process/stream-reclaim.js';
import type { Spawner } from '../process/spawner.js';
import type { WatchdogEvents } from '../metrics/metrics.js';
import type { CallSpan } from '../trace/tracing.js';

/** One function request, as the server core hands it to a mode. */
export interface FunctionCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The request's path and query as routed: origin-form (`/p?q`) even for an absolute-form request line; read it, not req.url. */
  readonly target: string;
  /** The request body: `req` itself, or a replacement (size-limited, already verified, empty for probes). */
  readonly body: Readable;
  /** Effective exec timeout for this call in ms (exec_timeout, shortened by X-Timeout); 0 = none. */
  readonly timeoutMs: number;
  /** Aborted when the client goes away or the watchdog must stop the call. */
  readonly signal: AbortSignal;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** The call id: the gateway's X-Call-Id, or one made for it (src/trace/call-id.ts); on every log line of the call. */
  readonly callId: string;
  /** The W3C trace context ids of the call (incoming traceparent, or the watchdog's span), if any. */
  readonly trace: TraceIds | undefined;
  /** The watchdog's span of the call when tracing is on (src/trace/tracing.ts). */
  readonly span?: CallSpan | undefined;
  /** Response body bytes written so far; the mode keeps it current for the access log. */
  bytesOut: number;
  /** Set by a mode that wants the access line to say something other than res.statusCode (e.g. 500 after a 200 was committed). */
  logStatus?: number;
  /** Set by a mode to hear once that the response closed (finished or cut), instead of adding a 'close' listener per call. */
  onClose?: CloseListener;
}

/** What FunctionCall.onClose calls (an object with a method: no closure per call). */
export interface CloseListener {
  responseClosed(): void;
}

export interface ModeDeps {
  config: WatchdogConfig;
  logger: Logger;
  /** The watchdog's own environment, given to forked and upstream processes. */
  baseEnv: Record<string, string>;
  /** Absolute path of the function program (inproc: of the module file), resolved at start-up (undefined in static mode). */
  programPath: string | undefined;
  /** Counts what the metrics report beyond requests (timeouts, cut log lines, bad CGI output...). */
  events: WatchdogEvents;
  /** Starts function and upstream processes (created in boot; the PID 1 reaper asks it which pids are its own). */
  spawner: Spawner;
  /** Called when the mode can no longer serve (the http upstream died): the watchdog exits non-zero. */
  onFatal(message: string, fields?: Record<string, unknown>): void;
  /** Told the bytes a streamed body moves, so dead chunks are collected as it goes (src/process/stream-reclaim.ts). */
  reclaim?: StreamReclaim;
}

export interface ModeRunner {
  /** Optional (inproc): loads the function before the ports are bound; a rejection stops the start (exit 2) with its message. */
  load?(): Promise<void>;
  /** Starts long-lived parts (http: the upstream process). Resolves once started, not once ready. */
  start(): Promise<void>;
  /** True when function requests can be served now. */
  isReady(): boolean;
  /** Resolves true as soon as ready, or false after `ms` or when the mode cannot become ready. */
  waitReady(ms: number): Promise<boolean>;
  /** Serves one call. Must end or destroy `call.res` exactly once, and never throw. */
  handle(call: FunctionCall): void;
  /** After the drain: ends every process the mode owns (SIGTERM, SIGKILL after a grace) and waits for them. */
  stop(): Promise<void>;
  /** Optional (inproc): the classes node:http makes each request and response from (createServer's options of those names). */
  readonly httpClasses?: { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse };
  /**
   * Optional (http mode): serves an HTTP Upgrade (WebSocket) request that passed every per-request check.
   * Answers it through `call.res` like any call, or, after a real 101 from the function, calls
   * `call.tunnelOpened()` and takes over `call.socket`.
   */
  handleUpgrade?(call: UpgradeCall): void;
}

/** An Upgrade request (no body: the server core refuses one that carries a body). */
export interface UpgradeCall extends FunctionCall {
  /** The client's connection; the mode may only write to it after tunnelOpened(). */
  readonly socket: Duplex;
  /** Bytes the client sent after the request head (already tunnel data). */
  readonly head: Buffer;
  /** The handshake succeeded (101): detaches `res` from the socket, logs and counts the call, frees its max_inflight slot. */
  tunnelOpened(): void;
}

export type ModeFactory = (deps: ModeDeps) => ModeRunner;
