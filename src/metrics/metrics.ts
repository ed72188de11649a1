// The Prometheus registry: the three instruments of the originals (names, help, labels, buckets) and
// fwatchdog's own (docs/metrics.md). prom-client is loaded after start-up (about 10 ms of CPU and
// 2.5 MiB): the request instruments and the fwatchdog_* counters are plain numbers from the first request,
// read at scrape time (request-series.ts), and a scrape waits for the library.
import type { Histogram, Registry } from 'prom-client';
import { RequestSeries } from './request-series.js';

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

/** Seconds; the queue waits of interest run from milliseconds to queue_timeout. */
const QUEUE_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

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
    new prom.Gauge({
      name: 'http_requests_in_flight',
      help: 'total HTTP requests in-flight',
      registers: [reg],
      collect() {
        this.set(inFlightCount);
      },
    });
    new prom.Counter({
      name: 'fwatchdog_exec_timeouts_total',
      help: 'Function calls ended because they ran longer than exec_timeout (or a shorter X-Timeout).',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(counts.execTimeouts);
      },
    });
    new prom.Counter({
      name: 'fwatchdog_requests_refused_total',
      help: 'Function requests the watchdog answered itself without running the function, by reason: max_inflight and queue_full (429 at once), queue_timeout (429 after waiting), body_too_large (413), auth (401).',
      labelNames: ['reason'],
      registers: [reg],
      collect() {
        this.reset();
        for (const reason of REFUSAL_REASONS) this.inc({ reason }, refusedCounts[reason]);
      },
    });
    new prom.Counter({
      name: 'fwatchdog_log_lines_cut_total',
      help: 'Function log lines cut at log_buffer_size bytes.',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(counts.logLinesCut);
      },
    });
    new prom.Counter({
      name: 'fwatchdog_upstream_exits_total',
      help: 'Exits of the upstream process in http mode (each one stops the watchdog).',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(counts.upstreamExits);
      },
    });
    new prom.Counter({
      name: 'fwatchdog_cgi_bad_responses_total',
      help: 'Function outputs that were not a valid CGI response with cgi_response=true (answered 502).',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(counts.badCgiResponses);
      },
    });
    new prom.Counter({
      name: 'fwatchdog_output_too_large_total',
      help: 'Function calls stopped because their output went over max_output_bytes (serializing, classic).',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(counts.outputTooLarge);
      },
    });
    new prom.Gauge({
      name: 'fwatchdog_requests_in_flight',
      help: 'Function requests running now (holding a max_inflight slot); queued ones are not counted.',
      registers: [reg],
      collect() {
        this.set(limiter?.inFlight ?? 0);
      },
    });
    new prom.Gauge({
      name: 'fwatchdog_queue_length',
      help: 'Function requests waiting for a max_inflight slot (at most max_queue).',
      registers: [reg],
      collect() {
        this.set(limiter?.queued ?? 0);
      },
    });
    queueWait = new prom.Histogram({
      name: 'fwatchdog_queue_wait_seconds',
      help: 'Seconds function requests spent in the queue, whatever ended the wait (a free slot, queue_timeout, the client leaving).',
      buckets: QUEUE_WAIT_BUCKETS,
      registers: [reg],
    });
    for (const seconds of pendingWaits) queueWait.observe(seconds);
    pendingWaits.length = 0;
    registry = reg;
  }

  // In flight is a plain counter read at scrape time: prom-client's inc()/dec() hash labels on every call.
  let inFlightCount = 0;
  // The fwatchdog_* counters, plain numbers read at scrape time (counted before prom-client is loaded too).
  const counts = { execTimeouts: 0, logLinesCut: 0, upstreamExits: 0, badCgiResponses: 0, outputTooLarge: 0 };
  const refusedCounts: Record<RefusalReason, number> = { max_inflight: 0, queue_full: 0, queue_timeout: 0, body_too_large: 0, auth: 0 };
  let limiter: LimiterState | undefined;
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
