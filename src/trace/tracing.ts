// OpenTelemetry export, as the request path sees it: a CallTracer when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is
// set, else undefined (one `=== undefined` check per request). The SDK sits behind it in the `otel` chunk
// (src/trace/otel-tracer.ts), loaded only then: with tracing off no OpenTelemetry module is ever loaded.
import type { IncomingMessage } from 'node:http';
import type { WatchdogConfig } from '../config/load-config.js';
import type { TraceIds } from '../log/json-lines.js';

/** The watchdog's server span of one function request. */
export interface CallSpan extends TraceIds {
  /** The traceparent the function gets: the watchdog's span as its parent. */
  readonly traceparent: string;
  /** A phase of the call (`function.start`, `response.first_byte`...), now or at `at` (performance.now()). */
  event(name: string, at?: number): void;
  /** The watchdog answered the call itself with this catalogue code (EXEC_TIMEOUT, BODY_TOO_LARGE...). */
  answered(code: string): void;
  /** Runs fn with this span active in the OpenTelemetry context (inproc: the handler's spans become its children). */
  runActive<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R;
  /** Ends the span with the status logged on the access line, at `at` (performance.now()). */
  end(status: number, at: number): void;
}

/** What became of the spans, read by the metrics at scrape time (fwatchdog_trace_spans_*). */
export interface SpanCounts {
  exported: number;
  /** Dropped because the export queue was full (OTEL_BSP_MAX_QUEUE_SIZE, 2048 by default). */
  queueFull: number;
  /** Lost because their export failed (collector down, slow past OTEL_EXPORTER_OTLP_TIMEOUT, refusing). */
  exportFailed: number;
}

export interface CallTracer {
  /** Starts the server span of a call that arrived at `startedAt` (performance.now()), child of its incoming traceparent. */
  start(req: IncomingMessage, startedAt: number, callId: string): CallSpan;
  /** A request answered before any call was made for it (429, 503 while shutting down, 499 gone while queued): one span, ended at once. */
  refused(req: IncomingMessage, startedAt: number, status: number, reason: string): void;
  readonly counts: SpanCounts;
  /** Exports what is queued (at most timeoutMs), then stops. */
  shutdown(timeoutMs: number): Promise<void>;
}

export interface TracerOptions {
  tracesUrl: string;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, as given. */
  resourceAttributes: string | undefined;
  mode: string;
  port: number;
  /** Told of export failures (at most one line a minute). */
  warn(message: string): void;
}

/** Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + v1/traces; undefined = tracing off. */
export function tracesUrlOf(config: Pick<WatchdogConfig, 'otlpEndpoint' | 'otlpTracesEndpoint'>): string | undefined {
  if (config.otlpTracesEndpoint !== undefined) return config.otlpTracesEndpoint.href;
  if (config.otlpEndpoint === undefined) return undefined;
  const base = config.otlpEndpoint.href;
  return `${base}${base.endsWith('/') ? '' : '/'}v1/traces`;
}

/** Interpreters whose first non-option argument names the function (`node index.js` -> index). */
const INTERPRETERS = new Set([
  'node',
  'nodejs',
  'bun',
  'deno',
  'python',
  'python3',
  'ruby',
  'php',
  'perl',
  'sh',
  'bash',
  'java',
  'dotnet',
]);

/**
 * service.name: OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else the function's name as
 * the watchdog knows it: the fprocess program's file name (without extension; for an interpreter, its script's).
 */
export function serviceNameOf(
  config: Pick<WatchdogConfig, 'otelServiceName' | 'otelResourceAttributes' | 'argv' | 'mode'>,
): string {
  if (config.otelServiceName !== undefined && config.otelServiceName !== '') return config.otelServiceName;
  for (const pair of (config.otelResourceAttributes ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === 'service.name') return decodeURIComponent(pair.slice(eq + 1).trim());
  }
  if (config.mode === 'static' || config.argv.length === 0) return 'fwatchdog';
  const base = (path: string): string => (path.split('/').pop() ?? path).replace(/\.[^.]+$/, '');
  const program = base(config.argv[0] as string);
  if (!INTERPRETERS.has(program.replace(/[\d.]+$/, ''))) return program || 'fwatchdog';
  const script = config.argv.slice(1).find((a) => !a.startsWith('-'));
  return script === undefined ? program : base(script);
}

/** Loads the OpenTelemetry SDK (the `otel` chunk) and makes the tracer; registers it as the global OpenTelemetry provider. */
export async function loadTracer(options: TracerOptions): Promise<CallTracer> {
  const { createOtelTracer } = await import('./otel-tracer.js');
  return createOtelTracer(options);
}
