// The OpenTelemetry SDK behind CallTracer (src/trace/tracing.ts): one SERVER span per function request,
// batched (BatchSpanProcessor: a bounded queue, exported off the request path) to an OTLP/HTTP JSON endpoint.
// Bundled as the `otel` chunk (scripts/bundle-options.mjs), loaded only when tracing is on.
import type { IncomingMessage } from 'node:http';
import {
  context,
  createTraceState,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type MeterProvider,
  type Span,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { formatTraceParent, parseTraceParent } from './traceparent.js';
import type { CallSpan, CallTracer, SpanCounts, TracerOptions } from './tracing.js';

/** Export problems are logged at most this often (a collector that is down fails every batch). */
const WARN_EVERY_MS = 60_000;

/** OTEL_RESOURCE_ATTRIBUTES: key=value pairs separated by commas, values percent-encoded. */
function parseResourceAttributes(text: string | undefined): Attributes {
  const attributes: Attributes = {};
  for (const pair of (text ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      attributes[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // A malformed %-escape: the pair is left out, as the SDK's own env detector does.
    }
  }
  return attributes;
}

/**
 * The batch processor reports each span's fate to a meter (its self-observability hook, counter
 * otel.sdk.processor.span.processed with error.type queue_full or the export error's name): this one counts.
 */
function countingMeterProvider(counts: SpanCounts): MeterProvider {
  const counter = {
    add(n: number, attrs?: Attributes) {
      const error = attrs?.['error.type'];
      if (error === undefined) counts.exported += n;
      else if (error === 'queue_full') counts.queueFull += n;
      else counts.exportFailed += n;
    },
  };
  const nothing = { add() {}, addCallback() {}, removeCallback() {} };
  const meter = {
    createCounter: () => counter,
    createUpDownCounter: () => nothing,
    createObservableUpDownCounter: () => nothing,
  };
  return { getMeter: () => meter } as unknown as MeterProvider;
}

class OtelCallSpan implements CallSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceparent: string;
  private reason: string | undefined = undefined;

  constructor(private readonly span: Span) {
    const ids = span.spanContext();
    this.traceId = ids.traceId;
    this.spanId = ids.spanId;
    this.traceparent = formatTraceParent(ids.traceId, ids.spanId, (ids.traceFlags & TraceFlags.SAMPLED) !== 0);
  }

  event(name: string, at?: number): void {
    this.span.addEvent(name, at ?? performance.now());
  }

  answered(code: string): void {
    this.reason ??= code.toLowerCase();
  }

  runActive<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
    return context.with(trace.setSpan(context.active(), this.span), fn, undefined, ...args);
  }

  end(status: number, at: number): void {
    endWith(this.span, status, this.reason, at);
  }
}

function endWith(span: Span, status: number, reason: string | undefined, at: number): void {
  span.setAttribute('http.response.status_code', status);
  if (reason !== undefined) span.setAttribute('fwatchdog.reason', reason);
  if (status >= 500) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: SpanStatusCode.ERROR, ...(reason !== undefined ? { message: reason } : {}) });
  }
  span.addEvent('response.end', at);
  span.end(at);
}

export function createOtelTracer(options: TracerOptions): CallTracer {
  const counts: SpanCounts = { exported: 0, queueFull: 0, exportFailed: 0 };
  let warnedAt = -Infinity;
  setGlobalErrorHandler((err) => {
    const now = performance.now();
    if (now - warnedAt < WARN_EVERY_MS) return;
    warnedAt = now;
    options.warn(
      `trace export to ${options.tracesUrl} failed (spans lost so far: ${counts.exportFailed + counts.queueFull}; said once a minute): ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  const resource = defaultResource().merge(
    resourceFromAttributes({
      ...parseResourceAttributes(options.resourceAttributes),
      'service.name': options.serviceName,
    }),
  );
  const exporter = new OTLPTraceExporter({ url: options.tracesUrl });
  // OTEL_BSP_* apply (the processor reads them); its defaults: 2048 queued spans, batches of 512 every 5 s.
  // (selfObsMeterProvider is passed on to the base processor; the shim's config type does not list it.)
  const processor = new BatchSpanProcessor(exporter, {
    selfObsMeterProvider: countingMeterProvider(counts),
  } as ConstructorParameters<typeof BatchSpanProcessor>[1]);
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  // Global, so an inproc handler's own @opentelemetry/api (same major) sees the call's span as active and
  // exports its spans here (docs/tracing.md). The context manager only in inproc: the watchdog itself passes
  // parents explicitly, and an AsyncLocalStorage in use costs every promise of the process (async hooks, Node < 24).
  if (options.mode === 'inproc') context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const tracer = provider.getTracer('fwatchdog');
  const base: Attributes = { 'url.scheme': 'http', 'server.port': options.port, 'fwatchdog.mode': options.mode };

  function parentOf(req: IncomingMessage): Context {
    const given = parseTraceParent(req.headers.traceparent as string | undefined);
    if (given === undefined) return ROOT_CONTEXT;
    const state = req.headers.tracestate;
    return trace.setSpanContext(ROOT_CONTEXT, {
      traceId: given.traceId,
      spanId: given.spanId,
      traceFlags: parseInt(given.flags, 16) & TraceFlags.SAMPLED,
      isRemote: true,
      ...(typeof state === 'string' ? { traceState: createTraceState(state) } : {}),
    });
  }

  function startSpan(req: IncomingMessage, startedAt: number): Span {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const attributes: Attributes = {
      ...base,
      'http.request.method': method,
      'url.path': q === -1 ? url : url.slice(0, q),
      'network.protocol.version': req.httpVersion,
    };
    if (q !== -1) attributes['url.query'] = url.slice(q + 1);
    const agent = req.headers['user-agent'];
    if (agent !== undefined) attributes['user_agent.original'] = agent;
    return tracer.startSpan(method, { kind: SpanKind.SERVER, startTime: startedAt, attributes }, parentOf(req));
  }

  return {
    counts,
    start(req, startedAt, callId) {
      const span = startSpan(req, startedAt);
      span.setAttribute('fwatchdog.call_id', callId);
      return new OtelCallSpan(span);
    },
    refused(req, startedAt, status, reason) {
      const span = startSpan(req, startedAt);
      const callId = req.headers['x-call-id'];
      if (typeof callId === 'string') span.setAttribute('fwatchdog.call_id', callId);
      endWith(span, status, reason, performance.now());
    },
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        provider.shutdown().catch(() => undefined),
        new Promise<void>((r) => (timer = setTimeout(r, timeoutMs))),
      ]);
      clearTimeout(timer);
    },
  };
}
