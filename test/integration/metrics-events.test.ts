// fwatchdog's own metrics against real processes and real requests, scraped from the metrics port.
import { describe, expect, it } from 'vitest';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { metricValue, scrapeMetrics, send } from '../helpers/http.js';
import { freePort, until } from '../helpers/process.js';
import { fixture, startWatchdog, withTimeout } from '../helpers/watchdog.js';

describe('fwatchdog metrics on the metrics port', () => {
  it('counts exec timeouts, refusals by reason and cut log lines', async () => {
    const mount = createSecretMount({ 'api-key': 'k3y' });
    const wd = await startWatchdog({
      fprocess: `${fixture('sleep-then-echo')} 5`,
      metrics_port: String(await freePort()),
      exec_timeout: '10s',
      max_body_bytes: '10',
      max_inflight: '1',
      secret_mount_path: mount.path,
      auth_api_key_secret: 'api-key',
    });
    const key = { 'X-Api-Key': 'k3y' };
    expect((await send(wd.url, { method: 'POST', body: 'x'.repeat(11), headers: key })).status).toBe(413);
    expect((await send(wd.url, { method: 'POST', body: 'x' })).status).toBe(401);
    // Holds the only slot until its X-Timeout (shorter than exec_timeout) ends it with a 504.
    const slow = send(wd.url, { method: 'POST', body: 'x', headers: { ...key, 'X-Timeout': '1500ms' } });
    await until(() => wd.watchdog.inFlight === 1, 2000, 'the slow request in flight');
    expect((await send(wd.url, { method: 'POST', body: 'x', headers: key })).status).toBe(429);
    const during = await scrapeMetrics(wd.metricsPort);
    expect(metricValue(during, 'fwatchdog_requests_in_flight')).toBe(1);
    expect((await withTimeout(slow, 5000, 'slow request')).status).toBe(504);
    const text = await scrapeMetrics(wd.metricsPort);
    expect(metricValue(text, 'fwatchdog_exec_timeouts_total')).toBe(1);
    expect(metricValue(text, 'fwatchdog_requests_refused_total{reason="body_too_large"}')).toBe(1);
    expect(metricValue(text, 'fwatchdog_requests_refused_total{reason="auth"}')).toBe(1);
    expect(metricValue(text, 'fwatchdog_requests_refused_total{reason="max_inflight"}')).toBe(1);
    expect(metricValue(text, 'fwatchdog_requests_refused_total{reason="queue_full"}')).toBe(0);
    expect(metricValue(text, 'fwatchdog_requests_in_flight')).toBe(0);
    // The originals' instruments are unchanged.
    expect(metricValue(text, 'http_requests_total{code="429",method="post"}')).toBe(1);
    expect(metricValue(text, 'http_requests_in_flight')).toBe(0);
  });

  it('counts log lines cut at log_buffer_size', async () => {
    const wd = await startWatchdog({
      fprocess: fixture('long-stderr-line'),
      metrics_port: String(await freePort()),
      log_buffer_size: '4096',
    });
    expect((await send(wd.url, { method: 'POST', body: 'x' })).text).toBe('ok');
    // One 1 MiB line over the limit; the 10 MiB of 1 KiB lines are not.
    await until(() => wd.logs.text.includes('line cut at log_buffer_size'), 2000, 'the cut line');
    expect(metricValue(await scrapeMetrics(wd.metricsPort), 'fwatchdog_log_lines_cut_total')).toBe(1);
  });

  it('counts an upstream exit in http mode', async () => {
    const port = await freePort();
    const wd = await startWatchdog({
      mode: 'http',
      fprocess: fixture('upstreams/upstream'),
      upstream_url: `http://127.0.0.1:${port}`,
      PORT: String(port),
      metrics_port: String(await freePort()),
    });
    expect(metricValue(await scrapeMetrics(wd.metricsPort), 'fwatchdog_upstream_exits_total')).toBe(0);
    await send(`${wd.url}/exit?code=3`);
    await until(() => wd.fatal.length > 0, 3000, 'the upstream exit');
    expect(metricValue(await scrapeMetrics(wd.metricsPort), 'fwatchdog_upstream_exits_total')).toBe(1);
  });
});
