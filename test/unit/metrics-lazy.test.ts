// prom-client is loaded after start-up: requests finished before it loads must still be counted.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { withTimeout } from '../helpers/watchdog.js';

describe('metrics loaded after start-up', () => {
  it('counts requests that finished before prom-client was loaded, once each, with their durations', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    for (let i = 0; i < 3; i++) metrics.requestStarted();
    metrics.requestFinished('GET', 200, 0.001);
    metrics.requestFinished('POST', 500, 0.2);
    // The third request is still in flight when the library arrives.
    await withTimeout(metrics.load(), 5000, 'load prom-client');
    metrics.requestFinished('GET', 200, 0.003);
    const text = await withTimeout(metrics.registry.metrics(), 5000, 'scrape');
    expect(text).toMatch(/^http_requests_total\{code="200",method="get"\} 2$/m);
    expect(text).toMatch(/^http_requests_total\{code="500",method="post"\} 1$/m);
    expect(text).toMatch(/^http_request_duration_seconds_count\{code="200",method="get"\} 2$/m);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="0.25",code="500",method="post"\} 1$/m);
    expect(text).toMatch(/^http_requests_in_flight 0$/m);
  });

  it('answers a scrape before anything loaded prom-client, with the in-flight count of the moment', async () => {
    const metrics = createMetrics({ defaultMetrics: true });
    metrics.requestStarted();
    const text = await withTimeout(metrics.registry.metrics(), 5000, 'scrape');
    expect(metrics.registry.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(text).toMatch(/^http_requests_in_flight 1$/m);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
  });
});
