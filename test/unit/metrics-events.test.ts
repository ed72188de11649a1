// fwatchdog's own metrics: counted before prom-client is loaded, named the Prometheus way, all with HELP.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { withTimeout } from '../helpers/watchdog.js';

describe('fwatchdog metrics', () => {
  it('keeps events counted before prom-client was loaded and reads the limiter at scrape time', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.execTimeout();
    metrics.refused('queue_full');
    metrics.refused('queue_full');
    metrics.refused('auth');
    metrics.logLineCut();
    metrics.upstreamExit();
    metrics.badCgiResponse();
    metrics.queueWaited(0.02);
    const state = { inFlight: 3, queued: 2 };
    metrics.watchLimiter(state);
    await withTimeout(metrics.load(), 5000, 'load prom-client');
    metrics.queueWaited(3);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^fwatchdog_exec_timeouts_total 1$/m);
    expect(text).toMatch(/^fwatchdog_requests_refused_total\{reason="queue_full"\} 2$/m);
    expect(text).toMatch(/^fwatchdog_requests_refused_total\{reason="auth"\} 1$/m);
    expect(text).toMatch(/^fwatchdog_requests_refused_total\{reason="max_inflight"\} 0$/m);
    expect(text).toMatch(/^fwatchdog_log_lines_cut_total 1$/m);
    expect(text).toMatch(/^fwatchdog_upstream_exits_total 1$/m);
    expect(text).toMatch(/^fwatchdog_cgi_bad_responses_total 1$/m);
    expect(text).toMatch(/^fwatchdog_output_too_large_total 0$/m);
    expect(text).toMatch(/^fwatchdog_requests_in_flight 3$/m);
    expect(text).toMatch(/^fwatchdog_queue_length 2$/m);
    expect(text).toMatch(/^fwatchdog_queue_wait_seconds_count 2$/m);
    expect(text).toMatch(/^fwatchdog_queue_wait_seconds_bucket\{le="0.025"\} 1$/m);
    state.queued = 0;
    expect(await metrics.registry.metrics()).toMatch(/^fwatchdog_queue_length 0$/m);
  });

  it('gives every metric HELP text, a _total suffix on every counter, and keeps the originals unchanged', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.requestStarted();
    metrics.requestFinished('GET', 200, 0.01);
    const text = await withTimeout(metrics.registry.metrics(), 5000, 'scrape');
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]);
    expect(types.length).toBeGreaterThanOrEqual(11);
    for (const [name, type] of types) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
      if (type === 'counter') expect(name).toMatch(/_total$/);
    }
    expect(types).toContainEqual(['http_requests_total', 'counter']);
    expect(types).toContainEqual(['http_request_duration_seconds', 'histogram']);
    expect(types).toContainEqual(['http_requests_in_flight', 'gauge']);
    expect(text).toContain('# HELP http_requests_total total HTTP requests processed');
  });
});
