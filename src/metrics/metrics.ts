// The Prometheus registry and the three instruments of the originals (names, help, labels, buckets).
// prom-client is loaded after start-up (about 10 ms of CPU and 2.5 MiB): requests that finish before
// it is loaded are buffered and replayed, and a scrape waits for it.
import type { Counter, Histogram, Registry } from 'prom-client';

const KNOWN_METHODS = new Set(['get', 'put', 'head', 'post', 'delete', 'connect', 'options', 'notify', 'trace', 'patch']);

/** client_golang's label rules: lower-case known methods, anything else `unknown`. */
export function methodLabel(method: string | undefined): string {
  if (method === undefined) return 'unknown';
  const lower = method.toLowerCase();
  return KNOWN_METHODS.has(lower) ? lower : 'unknown';
}

export function codeLabel(status: number): string {
  return status >= 100 && status <= 599 ? String(status) : 'unknown';
}

/** What the metrics endpoint needs of the registry: the exposition text (loads prom-client first) and its type. */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** prom-client's text exposition content type (Registry.PROMETHEUS_CONTENT_TYPE), known before it is loaded. */
const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** At most this many finished requests (3 slots each) wait for prom-client; only a failed load can fill it. */
const MAX_PENDING_SLOTS = 3 * 10_000;

export interface Metrics {
  readonly registry: MetricsRegistry;
  /** Loads prom-client and replays buffered requests; called once the watchdog is ready (also by the first finished request or scrape). */
  load(): Promise<void>;
  requestStarted(): void;
  /** Records one finished function request. */
  requestFinished(method: string | undefined, status: number, seconds: number): void;
}

export function createMetrics(options: { defaultMetrics: boolean }): Metrics {
  let registry: Registry | undefined;
  let total: Counter<'code' | 'method'> | undefined;
  let duration: Histogram<'code' | 'method'> | undefined;
  // Requests finished before prom-client is loaded, flat: method, status, seconds.
  const pending: Array<string | number | undefined> = [];
  let loading: Promise<void> | undefined;
  const load = (): Promise<void> => (loading ??= import('prom-client').then(build));

  function build(prom: typeof import('prom-client')): void {
    const reg = new prom.Registry();
    if (options.defaultMetrics) prom.collectDefaultMetrics({ register: reg });
    total = new prom.Counter({ name: 'http_requests_total', help: 'total HTTP requests processed', labelNames: ['code', 'method'], registers: [reg] });
    duration = new prom.Histogram({
      name: 'http_request_duration_seconds',
      help: 'Seconds spent serving HTTP requests.',
      labelNames: ['code', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [reg],
    });
    new prom.Gauge({
      name: 'http_requests_in_flight',
      help: 'total HTTP requests in-flight',
      registers: [reg],
      collect() {
        this.set(inFlightCount);
      },
    });
    registry = reg;
    // Replayed through requestFinished, which decrements the in-flight count again for each.
    inFlightCount += pending.length / 3;
    for (let i = 0; i < pending.length; i += 3) metrics.requestFinished(pending[i] as string | undefined, pending[i + 1] as number, pending[i + 2] as number);
    pending.length = 0;
  }

  // In flight is a plain counter read at scrape time: prom-client's inc()/dec() hash labels on every call.
  let inFlightCount = 0;

  // Children cached per method string, then per status: label lookups are the costly part of prom-client.
  type Child = { total: { inc(): void }; duration: { observe(v: number): void } };
  const children = new Map<string | undefined, Map<number, Child>>();
  const metrics: Metrics = {
    registry: {
      contentType: EXPOSITION_CONTENT_TYPE,
      metrics: () => load().then(() => (registry as Registry).metrics()),
    },
    load,
    requestStarted: () => {
      inFlightCount++;
    },
    requestFinished(method, status, seconds) {
      inFlightCount--;
      if (total === undefined || duration === undefined) {
        if (pending.length < MAX_PENDING_SLOTS) pending.push(method, status, seconds);
        if (loading === undefined) load().catch(() => undefined); // a failed load is reported by the scrape or main's load()
        return;
      }
      let byStatus = children.get(method);
      if (byStatus === undefined) {
        byStatus = new Map();
        // Methods outside the known set all share `unknown`; cap the cache so odd method strings cannot grow it.
        if (children.size < 64) children.set(method, byStatus);
      }
      let child = byStatus.get(status);
      if (child === undefined) {
        const labels = { code: codeLabel(status), method: methodLabel(method) };
        child = { total: total.labels(labels), duration: duration.labels(labels) };
        byStatus.set(status, child);
      }
      child.total.inc();
      child.duration.observe(seconds);
    },
  };
  return metrics;
}
