// The one table of metrics: the registry (metrics.ts, request-series.ts) and docs/metrics.md derive from it.
//
// Adding a metric = one row in METRIC_TABLE (name, type, HELP, labels, buckets, and what docs/metrics.md
// says of it) plus where its value comes from in metrics.ts. Then run `npm run docs:metrics` (a test compares
// docs/metrics.md with the table). The originals' rows are a contract: their names, HELP texts, labels and
// buckets never change.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricRow {
  readonly name: string;
  readonly type: MetricType;
  /** The HELP text, exactly as exposed. */
  readonly help: string;
  readonly labels: readonly string[];
  /** A histogram's bucket bounds in seconds (+Inf is implied). */
  readonly buckets?: readonly number[];
  /** One of the originals' three (of-watchdog's names), or fwatchdog's own. */
  readonly origin: 'original' | 'fwatchdog';
  /** What docs/metrics.md says of a metric of fwatchdog's own, beyond its HELP (Markdown). */
  readonly doc?: string;
  /** Registered only with tracing on (OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT set). */
  readonly tracingOnly?: boolean;
}

/** Every metric, in the order the registry registers them (and the scrape lists them) after Node's defaults. */
export const METRIC_TABLE = {
  requests: {
    name: 'http_requests_total',
    type: 'counter',
    help: 'total HTTP requests processed',
    labels: ['code', 'method'],
    origin: 'original',
  },
  requestDuration: {
    name: 'http_request_duration_seconds',
    type: 'histogram',
    help: 'Seconds spent serving HTTP requests.',
    labels: ['code', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    origin: 'original',
  },
  httpInFlight: {
    name: 'http_requests_in_flight',
    type: 'gauge',
    help: 'total HTTP requests in-flight',
    labels: [],
    origin: 'original',
  },
  execTimeouts: {
    name: 'fwatchdog_exec_timeouts_total',
    type: 'counter',
    help: 'Function calls ended because they ran longer than exec_timeout (or a shorter X-Timeout).',
    labels: [],
    origin: 'fwatchdog',
    doc: "Function calls ended because they ran longer than `exec_timeout` (or a shorter `X-Timeout`): fork modes' killed processes, http mode's upstream calls cut, inproc handler calls past their timeout (including calls that waited for a not-yet-ready upstream or module past it).",
  },
  refused: {
    name: 'fwatchdog_requests_refused_total',
    type: 'counter',
    help: 'Function requests the watchdog answered itself without running the function, by reason: max_inflight and queue_full (429 at once), queue_timeout (429 after waiting), body_too_large (413), auth (401).',
    labels: ['reason'],
    origin: 'fwatchdog',
    doc: "Function requests the watchdog answered itself without running the function. `reason` is one of `max_inflight` (429 at once, `max_queue=0`), `queue_full` (429 at once, the queue is full), `queue_timeout` (429 after waiting `queue_timeout`), `body_too_large` (413, `max_body_bytes`, or the HMAC check's own bound), `auth` (401 from `auth_api_key_secret` or `auth_hmac_secret`). Every reason is present from the start at 0.",
  },
  logLinesCut: {
    name: 'fwatchdog_log_lines_cut_total',
    type: 'counter',
    help: 'Function log lines cut at log_buffer_size bytes.',
    labels: [],
    origin: 'fwatchdog',
    doc: "Function log lines cut at `log_buffer_size` bytes (stderr in the fork modes, stdout and stderr of the http upstream, classic's `stderr:` line and `write_debug` output).",
  },
  upstreamExits: {
    name: 'fwatchdog_upstream_exits_total',
    type: 'counter',
    help: 'Exits of the upstream process in http mode (each one stops the watchdog).',
    labels: [],
    origin: 'fwatchdog',
    doc: "Exits of the http mode's upstream process. Each one stops the watchdog (exit 1 after in-flight requests got their 502), so a scrape sees it only in that last second; it is there for scrapes that catch it and for dashboards that alert on any non-zero value.",
  },
  badCgiResponses: {
    name: 'fwatchdog_cgi_bad_responses_total',
    type: 'counter',
    help: 'Function outputs that were not a valid CGI response with cgi_response=true (answered 502).',
    labels: [],
    origin: 'fwatchdog',
    doc: 'With `cgi_response=true`: outputs that were not a valid CGI response, answered 502 (or, in streaming mode after the head was sent, cut). See [cgi.md](cgi.md).',
  },
  outputTooLarge: {
    name: 'fwatchdog_output_too_large_total',
    type: 'counter',
    help: 'Function calls stopped because their output went over max_output_bytes (serializing, classic).',
    labels: [],
    origin: 'fwatchdog',
    doc: 'Function calls stopped because their output went over `max_output_bytes` (serializing, classic): the process group is stopped and the call answered 500. See [security.md](security.md).',
  },
  inFlight: {
    name: 'fwatchdog_requests_in_flight',
    type: 'gauge',
    help: 'Function requests running now (holding a max_inflight slot); queued ones are not counted.',
    labels: [],
    origin: 'fwatchdog',
    doc: 'Function requests running now (holding a `max_inflight` slot); queued ones are not counted.',
  },
  queueLength: {
    name: 'fwatchdog_queue_length',
    type: 'gauge',
    help: 'Function requests waiting for a max_inflight slot (at most max_queue).',
    labels: [],
    origin: 'fwatchdog',
    doc: 'Function requests waiting for a `max_inflight` slot (at most `max_queue`).',
  },
  queueWait: {
    name: 'fwatchdog_queue_wait_seconds',
    type: 'histogram',
    help: 'Seconds function requests spent in the queue, whatever ended the wait (a free slot, queue_timeout, the client leaving).',
    labels: [],
    // Seconds; the queue waits of interest run from milliseconds to queue_timeout.
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    origin: 'fwatchdog',
    doc: 'Seconds each request that entered the queue spent there, whatever ended the wait (a free slot, `queue_timeout`, the client leaving). Requests that found a free slot at once are not observed.',
  },
  spansExported: {
    name: 'fwatchdog_trace_spans_exported_total',
    type: 'counter',
    help: 'Spans exported to the OTLP endpoint (tracing on only).',
    labels: [],
    origin: 'fwatchdog',
    tracingOnly: true,
    doc: 'Only with tracing on ([tracing.md](tracing.md)): spans the OTLP endpoint accepted.',
  },
  spansDropped: {
    name: 'fwatchdog_trace_spans_dropped_total',
    type: 'counter',
    help: 'Spans lost, by reason: queue_full (the export queue, OTEL_BSP_MAX_QUEUE_SIZE, was full) and export_failed (the collector was down, slow or refused them). Tracing on only.',
    labels: ['reason'],
    origin: 'fwatchdog',
    tracingOnly: true,
    doc: 'Only with tracing on: spans lost, `queue_full` (the bounded export queue, `OTEL_BSP_MAX_QUEUE_SIZE`, 2048 by default, was full: the collector is slower than the traffic) or `export_failed` (the collector was down, slower than `OTEL_EXPORTER_OTLP_TIMEOUT`, or refused the batch). Both reasons are present from the start at 0. Requests never wait for the export.',
  },
} as const satisfies Record<string, MetricRow>;

export type MetricId = keyof typeof METRIC_TABLE;
export const METRIC_IDS = Object.keys(METRIC_TABLE) as MetricId[];

/** The options prom-client's constructors take for `row` (name, help, labelNames, buckets). */
export function promOptions(row: MetricRow): { name: string; help: string; labelNames: string[]; buckets?: number[] } {
  const options = { name: row.name, help: row.help, labelNames: [...row.labels] };
  return row.buckets === undefined ? options : { ...options, buckets: [...row.buckets] };
}
