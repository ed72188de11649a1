import * as prom from 'prom-client';
import { describe, expect, it } from 'vitest';
import { codeLabel, methodLabel } from '../../src/metrics/labels.js';
import { DURATION_BUCKETS, RequestSeries } from '../../src/metrics/request-series.js';

/** The same requests through prom-client's own Counter and Histogram: what the exposition must equal. */
function withPromClient(requests: Array<[string | undefined, number, number]>): prom.Registry {
  const reg = new prom.Registry();
  const total = new prom.Counter({
    name: 'http_requests_total',
    help: 'total HTTP requests processed',
    labelNames: ['code', 'method'],
    registers: [reg],
  });
  const duration = new prom.Histogram({
    name: 'http_request_duration_seconds',
    help: 'Seconds spent serving HTTP requests.',
    labelNames: ['code', 'method'],
    buckets: DURATION_BUCKETS,
    registers: [reg],
  });
  for (const [method, status, seconds] of requests) {
    const labels = { code: codeLabel(status), method: methodLabel(method) };
    total.inc(labels);
    duration.observe(labels, seconds);
  }
  return reg;
}

describe('request series', () => {
  it('exposes exactly what prom-client Counter and Histogram expose for the same requests', async () => {
    const requests: Array<[string | undefined, number, number]> = [];
    const methods = ['GET', 'POST', 'get', 'BREW', undefined, 'DELETE'];
    const statuses = [200, 404, 500, 429, 99, 600, 101];
    // Durations on, below and above every bound, with a spread of methods and statuses.
    const durations = [0, 0.001, ...DURATION_BUCKETS, ...DURATION_BUCKETS.map((b) => b * 1.0001), 12.5, 60];
    durations.forEach((seconds, i) =>
      requests.push([methods[i % methods.length], statuses[i % statuses.length] as number, seconds]),
    );
    for (let i = 0; i < 500; i++) requests.push(['GET', 200, (i % 37) / 1000]);

    const series = new RequestSeries();
    for (const [method, status, seconds] of requests) series.record(method, status, seconds);
    const reg = new prom.Registry();
    series.register(prom, reg);

    expect(await reg.metrics()).toBe(await withPromClient(requests).metrics());
    expect(await reg.metrics()).toContain('http_request_duration_seconds_bucket{le="+Inf",code="200",method="get"} 5');
  });

  it('reads the counts at each scrape, not once', async () => {
    const series = new RequestSeries();
    const reg = new prom.Registry();
    series.register(prom, reg);
    expect(await reg.metrics()).not.toContain('http_requests_total{');
    series.record('GET', 200, 0.002);
    series.record('GET', 200, 0.2);
    expect(await reg.metrics()).toContain('http_requests_total{code="200",method="get"} 2');
    series.record('GET', 200, 0.2);
    const text = await reg.metrics();
    expect(text).toContain('http_requests_total{code="200",method="get"} 3');
    expect(text).toContain('http_request_duration_seconds_bucket{le="0.005",code="200",method="get"} 1');
    expect(text).toContain('http_request_duration_seconds_count{code="200",method="get"} 3');
  });
});
