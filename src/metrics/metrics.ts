// The Prometheus registry and the three instruments of the originals (names, help, labels, buckets).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

export interface Metrics {
  readonly registry: Registry;
  requestStarted(): void;
  /** Records one finished function request. */
  requestFinished(method: string | undefined, status: number, seconds: number): void;
}

export function createMetrics(options: { defaultMetrics: boolean }): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const total = new Counter({ name: 'http_requests_total', help: 'total HTTP requests processed', labelNames: ['code', 'method'], registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Seconds spent serving HTTP requests.',
    labelNames: ['code', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // In flight is a plain counter read at scrape time: prom-client's inc()/dec() hash labels on every call.
  let inFlightCount = 0;
  new Gauge({
    name: 'http_requests_in_flight',
    help: 'total HTTP requests in-flight',
    registers: [registry],
    collect() {
      this.set(inFlightCount);
    },
  });

  // Children cached per method string, then per status: label lookups are the costly part of prom-client.
  type Child = { total: { inc(): void }; duration: { observe(v: number): void } };
  const children = new Map<string | undefined, Map<number, Child>>();
  return {
    registry,
    requestStarted: () => {
      inFlightCount++;
    },
    requestFinished(method, status, seconds) {
      inFlightCount--;
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
}
