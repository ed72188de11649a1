// The Prometheus registry, built from the rows of metric-table.ts: the three instruments of the originals and
// fwatchdog's own (docs/metrics.md). prom-client is loaded after start-up (about 10 ms of CPU and
// 2.5 MiB): the request instruments and the fwatchdog_* counters are plain numbers from the first request,
// read at scrape time (request-series.ts), and a scrape waits for the library.
import type { Histogram, Registry } from 'prom-client';
import { METRIC_IDS, METRIC_TABLE, promOptions, type MetricId, type MetricRow } from './metric-table.js';
import { RequestSeries } from './request-series.js';
import type { SpanCounts } from '../trace/tracing.js';

/** Why a function request was refused (fwatchdog_requests_refused_total{reason}). */
export const REFUSAL_REASONS = ['max_inflight', 'queue_full', 'queue_timeout', 'body_too_large', 'auth'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Events the metrics count besides requests; cheap to call on any path (a number is incremented). */
export interface WatchdogEvents {
  /** A function call was ended by exec_timeout (or a shorter X-Timeout). */
  execTimeout(): void;
  refused(reason: RefusalReason): void;
  /** A function log line was cut at log_buffer_size. */
  logLineCut(): void;
  /** The http mode's upstream process exited. */
  upstreamExit(): void;
  /** cgi_response=true and the output was not a CGI response (answered 502). */
  badCgiResponse(): void;
  /** A call was stopped because its output went over max_output_bytes (serializing, classic). */
  outputTooLarge(): void;
}

/** What the limiter shows the gauges, read at scrape time. */
export interface LimiterState {
  /** Function requests holding a slot (running). */
  readonly inFlight: number;
  /** Function requests waiting for a slot. */
  readonly queued: number;
}

/** The unlabelled counters, counted in plain numbers (read at scrape time) under their METRIC_TABLE ids. */
type CountedId = 'execTimeouts' | 'logLinesCut' | 'upstreamExits' | 'badCgiResponses' | 'outputTooLarge';

/** What the metrics endpoint needs of the registry: the exposition text (loads prom-client first) and its type. */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** prom-client's text exposition content type (Registry.PROMETHEUS_CONTENT_TYPE), known before it is loaded. */
const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** At most this many queue waits wait for prom-client to be loaded; only a failed load can fill it. */
const MAX_PENDING_WAITS = 30_000;

export interface Metrics extends WatchdogEvents {
  readonly registry: MetricsRegistry;
  /** Where the in-flight and queue gauges read their values. */
  watchLimiter(state: LimiterState): void;
  /** Tracing is on: the fwatchdog_trace_spans_* counters exist and read these counts (call before the first scrape). */
  watchSpans(counts: SpanCounts): void;
  /** A request left the queue (started, timed out or gone) after `seconds`. */
  queueWaited(seconds: number): void;
  /** Loads prom-client (the first scrape calls it; nothing counted before is lost: the counts are plain numbers). */
  load(): Promise<void>;
  requestStarted(): void;
  /** Records one finished function request. */
  requestFinished(method: string | undefined, status: number, seconds: number): void;
}

export function createMetrics(options: { defaultMetrics: boolean }): Metrics {
  let registry: Registry | undefined;
  // Counted in plain numbers from the first request (request-series.ts); prom-client reads them at scrape time.
  const requests = new RequestSeries();
  let loading: Promise<void> | undefined;
  const load = (): Promise<void> => (loading ??= import('prom-client').then(build));

  function build(prom: typeof import('prom-client')): void {
    const reg = new prom.Registry();
    if (options.defaultMetrics) prom.collectDefaultMetrics({ register: reg });
    requests.register(prom, reg);
    const registers = [reg];
    // The unlabelled counters and gauges of the table, each read at scrape time.
    const reads: Partial<Record<MetricId, () => number>> = {
      httpInFlight: () => inFlightCount,
      inFlight: () => limiter?.inFlight ?? 0,
      queueLength: () => limiter?.queued ?? 0,
    };
    for (const id of Object.keys(counts) as CountedId[]) reads[id] = () => counts[id];
    const counted = spans;
    if (counted !== undefined) reads.spansExported = () => counted.exported;
    for (const id of METRIC_IDS) {
      const row = METRIC_TABLE[id];
      const read = reads[id];
      if (id === 'requests' || id === 'requestDuration') continue; // registered by the request series above
      if ((row as MetricRow).tracingOnly === true && counted === undefined) continue;
      if (id === 'refused') {
        new prom.Counter({
          ...promOptions(row),
          registers,
          collect() {
            this.reset();
            for (const reason of REFUSAL_REASONS) this.inc({ reason }, refusedCounts[reason]);
          },
        });
      } else if (id === 'spansDropped' && counted !== undefined) {
        new prom.Counter({
          ...promOptions(row),
          registers,
          collect() {
            this.reset();
            this.inc({ reason: 'queue_full' }, counted.queueFull);
            this.inc({ reason: 'export_failed' }, counted.exportFailed);
          },
        });
      } else if (id === 'queueWait') {
        const histogram = new prom.Histogram({ ...promOptions(row), registers });
        for (const seconds of pendingWaits) histogram.observe(seconds);
        pendingWaits.length = 0;
        queueWait = histogram;
      } else if (read === undefined) {
        throw new Error(`metric ${row.name} has no value source`);
      } else if (row.type === 'counter') {
        new prom.Counter({
          ...promOptions(row),
          registers,
          collect() {
            this.reset();
            this.inc(read());
          },
        });
      } else {
        new prom.Gauge({
          ...promOptions(row),
          registers,
          collect() {
            this.set(read());
          },
        });
      }
    }
    registry = reg;
  }

  // In flight is a plain counter read at scrape time: prom-client's inc()/dec() hash labels on every call.
  let inFlightCount = 0;
  // The fwatchdog_* counters, plain numbers read at scrape time (counted before prom-client is loaded too).
  const counts: Record<CountedId, number> = {
    execTimeouts: 0,
    logLinesCut: 0,
    upstreamExits: 0,
    badCgiResponses: 0,
    outputTooLarge: 0,
  };
  const refusedCounts: Record<RefusalReason, number> = {
    max_inflight: 0,
    queue_full: 0,
    queue_timeout: 0,
    body_too_large: 0,
    auth: 0,
  };
  let limiter: LimiterState | undefined;
  let spans: SpanCounts | undefined;
  let queueWait: Histogram | undefined;
  const pendingWaits: number[] = [];

  const metrics: Metrics = {
    registry: {
      contentType: EXPOSITION_CONTENT_TYPE,
      metrics: () => load().then(() => (registry as Registry).metrics()),
    },
    load,
    execTimeout: () => {
      counts.execTimeouts++;
    },
    refused: (reason) => {
      refusedCounts[reason]++;
    },
    logLineCut: () => {
      counts.logLinesCut++;
    },
    upstreamExit: () => {
      counts.upstreamExits++;
    },
    badCgiResponse: () => {
      counts.badCgiResponses++;
    },
    outputTooLarge: () => {
      counts.outputTooLarge++;
    },
    watchLimiter: (state) => {
      limiter = state;
    },
    watchSpans: (counts) => {
      spans = counts;
    },
    queueWaited: (seconds) => {
      if (queueWait !== undefined) queueWait.observe(seconds);
      else if (pendingWaits.length < MAX_PENDING_WAITS) pendingWaits.push(seconds);
    },
    requestStarted: () => {
      inFlightCount++;
    },
    requestFinished(method, status, seconds) {
      inFlightCount--;
      requests.record(method, status, seconds);
    },
  };
  return metrics;
}
