// http_requests_total and http_request_duration_seconds, counted in plain numbers per (code, method):
// they change on every request, and prom-client's labelled inc() and observe() validate and hash the
// labels on each call. The registry reads these series at scrape time only.
import type { Registry } from 'prom-client';
import { codeLabel, methodLabel } from './labels.js';
import { METRIC_TABLE, promOptions } from './metric-table.js';
import { registerCustomMetric, type CustomMetric } from '../internals.js';

/** The originals' buckets (seconds). */
export const DURATION_BUCKETS: number[] = [...METRIC_TABLE.requestDuration.buckets];

interface Series {
  readonly labels: { code: string; method: string };
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); index DURATION_BUCKETS.length is above the last bound. */
  readonly buckets: Float64Array;
}

/** Raw method strings remembered for the fast lookup; odd ones beyond this share the slow path. */
const MAX_CACHED_METHODS = 64;

export class RequestSeries {
  /** Every series, by `code method` label pair, in the order they first appeared. */
  private readonly byLabels = new Map<string, Series>();
  /** The fast lookup: the raw method string, then the status. */
  private readonly byMethod = new Map<string | undefined, Map<number, Series>>();

  record(method: string | undefined, status: number, seconds: number): void {
    let byStatus = this.byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      if (this.byMethod.size < MAX_CACHED_METHODS) this.byMethod.set(method, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      series = this.seriesFor(codeLabel(status), methodLabel(method));
      byStatus.set(status, series);
    }
    series.count++;
    series.sum += seconds;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++;
    (series.buckets[i] as number)++;
  }

  private seriesFor(code: string, method: string): Series {
    const key = `${code} ${method}`;
    let series = this.byLabels.get(key);
    if (series === undefined) {
      series = { labels: { code, method }, count: 0, sum: 0, buckets: new Float64Array(DURATION_BUCKETS.length + 1) };
      this.byLabels.set(key, series);
    }
    return series;
  }

  /** Registers both instruments with the originals' names and help texts. */
  register(prom: typeof import('prom-client'), registry: Registry): void {
    const all = this.byLabels;
    new prom.Counter({
      ...promOptions(METRIC_TABLE.requests),
      registers: [registry],
      collect() {
        this.reset();
        for (const s of all.values()) this.inc(s.labels, s.count);
      },
    });
    registerCustomMetric(registry, new DurationHistogram(all));
  }
}

/**
 * http_request_duration_seconds as prom-client's registry reads a histogram (get() with `_bucket`, `_sum` and
 * `_count` values, cumulative buckets, `le` first): the same exposition as a prom-client Histogram.
 */
class DurationHistogram implements CustomMetric {
  readonly name = METRIC_TABLE.requestDuration.name;
  readonly help = METRIC_TABLE.requestDuration.help;
  readonly type = METRIC_TABLE.requestDuration.type;
  readonly aggregator = 'sum';

  constructor(private readonly all: Map<string, Series>) {}

  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }>;
  }> {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all.values()) {
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += s.buckets[i] as number;
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const s of this.all.values()) {
      s.count = 0;
      s.sum = 0;
      s.buckets.fill(0);
    }
  }
}
