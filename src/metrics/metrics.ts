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
  const inFlight = new Gauge({ name: 'http_requests_in_flight', help: 'total HTTP requests in-flight', registers: [registry] });
  inFlight.set(0);

  // Children cached by "method code": label lookups are the costly part of prom-client.
  const children = new Map<string, { total: { inc(): void }; duration: { observe(v: number): void } }>();
  return {
    registry,
    requestStarted: () => inFlight.inc(),
    requestFinished(method, status, seconds) {
      inFlight.dec();
      const m = methodLabel(method);
      const key = `${m} ${status}`;
      let child = children.get(key);
      if (child === undefined) {
        const labels = { code: codeLabel(status), method: m };
        child = { total: total.labels(labels), duration: duration.labels(labels) };
        children.set(key, child);
      }
      child.total.inc();
      child.duration.observe(seconds);
    },
  };
}
