// max_queue and queue_timeout: requests wait for a max_inflight slot in arrival order, bounded in number and time.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricValue, scrapeMetrics, send, type RawResponse } from '../helpers/http.js';
import { freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';

const LIMIT_BODY = 'Concurrent request limit exceeded. Max concurrent requests: 1\n';

function calls(file: string): string[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
}

describe('max_queue and queue_timeout', () => {
  it('holds requests beyond max_inflight in arrival order, each starting when a slot frees; a full queue gets 429 at once', async () => {
    const callsFile = join(makeTmpDir(), 'calls');
    const wd = await startWatchdog({
      fprocess: `${fixture('numbered-call')} 0.8`,
      max_inflight: '1',
      max_queue: '3',
      queue_timeout: '10s',
      metrics_port: String(await freePort()),
      CALLS_FILE: callsFile,
    });
    const finished: string[] = [];
    const go = (n: number): Promise<RawResponse> =>
      send(wd.url, { method: 'POST', headers: { 'X-N': String(n) } }).then((r) => {
        finished.push(r.text.trim());
        return r;
      });
    const first = go(1);
    await until(() => wd.watchdog.inFlight === 1, 2000, 'request 1 running');
    const waiting: Promise<RawResponse>[] = [];
    for (let n = 2; n <= 4; n++) {
      waiting.push(go(n));
      await until(() => wd.watchdog.inFlight === 1 && queued(wd) === n - 1, 2000, `request ${n} queued`);
    }
    // The queue holds 3: the fifth is refused at once (before any call ended) with today's 429, and /_/ready says 429.
    const fifth = await send(wd.url, { method: 'POST', headers: { 'X-N': '5' } });
    expect(fifth.status).toBe(429);
    expect(fifth.text).toBe(LIMIT_BODY);
    expect(fifth.headers['x-openfaas-internal']).toBe('faas-middleware');
    expect(finished).toEqual([]);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(429);
    const during = await scrapeMetrics(wd.metricsPort);
    expect(metricValue(during, 'fwatchdog_queue_length')).toBe(3);
    expect(metricValue(during, 'fwatchdog_requests_in_flight')).toBe(1);

    const all = await withTimeout(Promise.all([first, ...waiting]), 15_000, 'queued requests');
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(finished).toEqual(['1', '2', '3', '4']);
    expect(calls(callsFile)).toEqual(['1', '2', '3', '4']);
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
    const after = await scrapeMetrics(wd.metricsPort);
    expect(metricValue(after, 'fwatchdog_requests_refused_total{reason="queue_full"}')).toBe(1);
    expect(metricValue(after, 'fwatchdog_queue_wait_seconds_count')).toBe(3);
    expect(metricValue(after, 'fwatchdog_queue_length')).toBe(0);
    // The waits were about one, two and three calls of 0.8 s.
    expect(metricValue(after, 'fwatchdog_queue_wait_seconds_sum')).toBeGreaterThan(3);
  });

  it('answers 429 after queue_timeout to a request that waited too long, and never runs it', async () => {
    const callsFile = join(makeTmpDir(), 'calls');
    const wd = await startWatchdog({
      fprocess: `${fixture('numbered-call')} 2`,
      max_inflight: '1',
      max_queue: '1',
      queue_timeout: '200ms',
      metrics_port: String(await freePort()),
      CALLS_FILE: callsFile,
    });
    let firstDone = false;
    const first = send(wd.url, { method: 'POST', headers: { 'X-N': '1' } }).finally(() => (firstDone = true));
    await until(() => wd.watchdog.inFlight === 1, 2000, 'request 1 running');
    // A free place in the queue: /_/ready is not 429 yet.
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
    const t0 = Date.now();
    const second = await send(wd.url, { method: 'POST', headers: { 'X-N': '2' } });
    const waited = Date.now() - t0;
    expect(second.status).toBe(429);
    expect(second.text).toBe(LIMIT_BODY);
    expect(waited).toBeGreaterThanOrEqual(180);
    expect(firstDone).toBe(false); // it did not wait for the running call to end
    expect((await first).status).toBe(200);
    expect(calls(callsFile)).toEqual(['1']);
    const text = await scrapeMetrics(wd.metricsPort);
    expect(metricValue(text, 'fwatchdog_requests_refused_total{reason="queue_timeout"}')).toBe(1);
    expect(metricValue(text, 'fwatchdog_queue_wait_seconds_count')).toBe(1);
  });

  it('drops a waiting client that leaves at once: its place is free and its function never runs', async () => {
    const callsFile = join(makeTmpDir(), 'calls');
    const wd = await startWatchdog({
      fprocess: `${fixture('numbered-call')} 2`,
      max_inflight: '1',
      max_queue: '1',
      queue_timeout: '10s',
      metrics_port: String(await freePort()),
      CALLS_FILE: callsFile,
    });
    const first = send(wd.url, { method: 'POST', headers: { 'X-N': '1' } });
    await until(() => wd.watchdog.inFlight === 1, 2000, 'request 1 running');
    const leaving = request(wd.url, { method: 'POST', agent: false, headers: { 'X-N': '2' } });
    leaving.on('error', () => undefined); // we cut it ourselves
    leaving.end();
    await until(() => queued(wd) === 1, 2000, 'request 2 queued');
    expect((await send(`${wd.url}/_/ready`)).status).toBe(429);
    leaving.destroy();
    await until(() => queued(wd) === 0, 500, 'request 2 dropped');
    // Its place is free again: the next request waits (and runs) instead of getting a 429.
    const third = send(wd.url, { method: 'POST', headers: { 'X-N': '3' } });
    await until(() => queued(wd) === 1, 2000, 'request 3 queued');
    expect((await first).status).toBe(200);
    expect((await withTimeout(third, 8000, 'request 3')).text).toBe('3\n');
    // Evidence, not a wait: one slot, first come first served, so request 2 would have run before request 3 answered.
    expect(calls(callsFile)).toEqual(['1', '3']);
    const text = await scrapeMetrics(wd.metricsPort);
    expect(metricValue(text, 'http_requests_total{code="499",method="post"}')).toBe(1);
    expect(metricValue(text, 'http_requests_in_flight')).toBe(0);
  });

  it('still serves queued requests during the shutdown drain', async () => {
    const wd = await startWatchdog({
      fprocess: `${fixture('numbered-call')} 1`,
      max_inflight: '1',
      max_queue: '2',
      healthcheck_interval: '0',
    });
    const first = send(wd.url, { method: 'POST', headers: { 'X-N': '1' } });
    await until(() => wd.watchdog.inFlight === 1, 2000, 'request 1 running');
    const second = send(wd.url, { method: 'POST', headers: { 'X-N': '2' } });
    await until(() => queued(wd) === 1, 2000, 'request 2 queued');
    const stopped = wd.watchdog.shutdown('SIGTERM');
    const [a, b] = await withTimeout(Promise.all([first, second]), 8000, 'both answers');
    expect([a.status, a.text, b.status, b.text]).toEqual([200, '1\n', 200, '2\n']);
    await withTimeout(stopped, 5000, 'shutdown');
    await wd.logs.waitFor('draining: 2 requests');
  });

  it("keeps today's behaviour by default: no queue, 429 at once", async () => {
    const wd = await startWatchdog({ fprocess: `${fixture('numbered-call')} 1`, max_inflight: '1' });
    let firstDone = false;
    const first = send(wd.url, { method: 'POST', headers: { 'X-N': '1' } }).finally(() => (firstDone = true));
    await until(() => wd.watchdog.inFlight === 1, 2000, 'request 1 running');
    expect((await send(wd.url, { method: 'POST' })).status).toBe(429);
    expect(firstDone).toBe(false); // refused at once, not after waiting
    expect((await send(`${wd.url}/_/ready`)).status).toBe(429);
    expect((await first).status).toBe(200);
  });
});

function queued(wd: Awaited<ReturnType<typeof startWatchdog>>): number {
  return wd.watchdog.queued;
}
