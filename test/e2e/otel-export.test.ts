// OpenTelemetry export under the built binary, against a real OTLP/HTTP receiver (test/helpers/otlp-receiver.ts):
// one SERVER span per request in every mode, the function getting the watchdog's span as its parent, the ids on
// the access line, refusals with their reason, a collector that is down or slow, and nothing of it when off.
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, ROOT, startBinary, type RunningBinary } from '../helpers/binary.js';
import { metricValue, scrapeMetrics, send } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
/** Spans are exported every 50 ms (OTEL_BSP_SCHEDULE_DELAY), not every 5 s. */
const FAST_EXPORT = { OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_EXPORTER_OTLP_TIMEOUT: '300' };

type Mode = 'classic' | 'streaming' | 'serializing' | 'http' | 'inproc';
const MODES: Mode[] = ['classic', 'streaming', 'serializing', 'http', 'inproc'];

interface Traced {
  wd: RunningBinary;
  metricsPort: number;
}

/** Starts the binary in `mode` on that mode's tracing fixture, with JSON logs and `env` (the OTEL_* variables). */
async function startTraced(mode: Mode, env: Record<string, string>): Promise<Traced> {
  const metricsPort = await freePort();
  const base: Record<string, string> = {
    mode,
    TMPDIR: makeTmpDir(),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    healthcheck_interval: '0',
    log_format: 'json',
    metrics_port: String(metricsPort),
  };
  if (mode === 'http') {
    const port = await freePort();
    Object.assign(base, {
      fprocess: fixture('upstreams/trace-upstream'),
      upstream_url: `http://127.0.0.1:${port}`,
      PORT: String(port),
    });
  } else if (mode === 'inproc') {
    base.fprocess = fixture('inproc/trace-handler.mjs');
  } else {
    base.fprocess = fixture('trace-echo');
  }
  const wd = await startBinary({ ...base, ...env });
  await wd.waitReady();
  return { wd, metricsPort };
}

/** The traceparent the function said it got (JSON in http and inproc, `call=… traceparent=…` in the fork modes). */
function receivedTraceparent(text: string): string | undefined {
  if (text.startsWith('{')) return (JSON.parse(text) as { traceparent?: string }).traceparent;
  return /traceparent=(\S*)/.exec(text)?.[1];
}

function accessLines(wd: RunningBinary): Record<string, unknown>[] {
  return wd.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.msg === 'request');
}

async function spanOf(
  receiver: OtlpReceiver,
  what: (s: ReceivedSpan) => boolean,
  label: string,
): Promise<ReceivedSpan> {
  await until(() => receiver.spans.some(what), 5000, label);
  return receiver.spans.find(what) as ReceivedSpan;
}

describe.each(MODES)('mode=%s: spans exported over OTLP', (mode) => {
  it('exports a SERVER span, child of the incoming traceparent, that the function gets as its parent and the access line names', async () => {
    const receiver = await startOtlpReceiver();
    const { wd } = await startTraced(mode, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'fn-traced',
      ...FAST_EXPORT,
    });
    const res = await send(`${wd.url}/traced?q=1`, {
      method: 'POST',
      body: 'x',
      headers: { traceparent: TRACEPARENT, tracestate: 'vendor=abc', 'X-Call-Id': `call-${mode}` },
    });
    expect(res.status).toBe(200);
    const span = await spanOf(
      receiver,
      (s) => s.attributes['fwatchdog.call_id'] === `call-${mode}`,
      'the span of the call',
    );
    expect(span).toMatchObject({
      traceId: TRACE_ID,
      parentSpanId: CALLER_SPAN,
      kind: 2,
      name: 'POST',
      scope: 'fwatchdog',
      statusCode: 0,
    });
    expect(span.resource['service.name']).toBe('fn-traced');
    expect(span.attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.path': '/traced',
      'url.query': 'q=1',
      'http.response.status_code': 200,
      'fwatchdog.mode': mode,
    });
    expect(span.events).toEqual(expect.arrayContaining(['function.start', 'response.first_byte', 'response.end']));
    // The function's parent is the watchdog's span, in the same trace; tracestate passes unchanged.
    expect(receivedTraceparent(res.text)).toBe(`00-${TRACE_ID}-${span.spanId}-01`);
    if (mode === 'http' || mode === 'inproc')
      expect((JSON.parse(res.text) as { tracestate?: string }).tracestate).toBe('vendor=abc');
    await until(() => accessLines(wd).length > 0, 3000, 'the access line');
    expect(accessLines(wd)[0]).toMatchObject({ callId: `call-${mode}`, trace_id: TRACE_ID, span_id: span.spanId });
  });
});

describe('spans', () => {
  it('without an incoming traceparent, the watchdog starts the trace: a root span, whose ids the function and the access line get', async () => {
    const receiver = await startOtlpReceiver();
    const { wd } = await startTraced('streaming', {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
      ...FAST_EXPORT,
    });
    const res = await send(`${wd.url}/root`, { headers: { 'X-Call-Id': 'root-1' } });
    const span = await spanOf(receiver, (s) => s.attributes['fwatchdog.call_id'] === 'root-1', 'the root span');
    expect(span.parentSpanId).toBeUndefined();
    expect(span.resource['service.name']).toBe('trace-echo'); // the fprocess program's name by default
    expect(receivedTraceparent(res.text)).toBe(`00-${span.traceId}-${span.spanId}-01`);
    await until(() => accessLines(wd).length > 0, 3000, 'the access line');
    expect(accessLines(wd)[0]).toMatchObject({ trace_id: span.traceId, span_id: span.spanId });
  });

  it('OTEL_TRACES_SAMPLER applies: parentbased_always_on follows an unsampled caller, always_off exports nothing', async () => {
    const receiver = await startOtlpReceiver();
    const { wd } = await startTraced('streaming', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...FAST_EXPORT });
    // The default sampler: a caller that did not sample (flags 00) gets no span; one that did, a span.
    await send(`${wd.url}/`, {
      headers: { 'X-Call-Id': 'unsampled', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' },
    });
    await send(`${wd.url}/`, {
      headers: { 'X-Call-Id': 'sampled', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-01' },
    });
    await spanOf(receiver, (s) => s.attributes['fwatchdog.call_id'] === 'sampled', 'the sampled call');
    expect(receiver.spans.some((s) => s.attributes['fwatchdog.call_id'] === 'unsampled')).toBe(false);

    const off = await startOtlpReceiver();
    const { wd: quiet } = await startTraced('streaming', {
      OTEL_EXPORTER_OTLP_ENDPOINT: off.url,
      OTEL_TRACES_SAMPLER: 'always_off',
      ...FAST_EXPORT,
    });
    for (let i = 0; i < 3; i++)
      expect((await send(`${quiet.url}/`, { headers: { 'X-Call-Id': `off-${i}` } })).status).toBe(200);
    // Give the 50 ms batch delay a few rounds: nothing may arrive.
    await new Promise((r) => setTimeout(r, 300));
    expect(off.spans).toEqual([]);
  });

  it('refusals are spans with their reason: 413 body too large, 429 max_inflight, 504 exec_timeout', async () => {
    const receiver = await startOtlpReceiver();
    const { wd } = await startTraced('streaming', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      ...FAST_EXPORT,
      max_body_bytes: '4',
      max_inflight: '1',
      fprocess: `${fixture('maybe-sleep')}`,
      exec_timeout: '300ms',
    });
    expect(
      (await send(`${wd.url}/big`, { method: 'POST', body: 'too large', headers: { 'X-Call-Id': 'big' } })).status,
    ).toBe(413);
    const slow = send(`${wd.url}/slow`, { headers: { 'X-Call-Id': 'slow', 'X-Sleep': '1' } });
    await until(
      async () => (await send(`${wd.url}/busy`, { headers: { 'X-Call-Id': 'busy' } })).status === 429,
      3000,
      'a 429',
    );
    expect((await slow).status).toBe(504);
    const reasons = async (id: string): Promise<unknown[]> => {
      const span = await spanOf(receiver, (s) => s.attributes['fwatchdog.call_id'] === id, `the span of ${id}`);
      return [
        span.attributes['http.response.status_code'],
        span.attributes['fwatchdog.reason'],
        span.attributes['error.type'],
      ];
    };
    expect(await reasons('big')).toEqual([413, 'body_too_large', undefined]);
    expect(await reasons('busy')).toEqual([429, 'max_inflight', undefined]);
    expect(await reasons('slow')).toEqual([504, 'exec_timeout', '504']);
  });

  it('the dropped and exported spans are counted in the metrics, which exist only with tracing on', async () => {
    const receiver = await startOtlpReceiver();
    const on = await startTraced('streaming', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...FAST_EXPORT });
    await send(`${on.wd.url}/a`);
    await until(
      async () => metricValue(await scrapeMetrics(on.metricsPort), 'fwatchdog_trace_spans_exported_total') === 1,
      3000,
      'one exported span counted',
    );
    const off = await startTraced('streaming', {});
    await send(`${off.wd.url}/a`);
    expect(await scrapeMetrics(off.metricsPort)).not.toContain('fwatchdog_trace_spans');
  });
});

describe('a collector that is down or slow', () => {
  it('down: requests are answered as ever, the lost spans are counted (export_failed) and said once', async () => {
    const closed = await freePort();
    const { wd, metricsPort } = await startTraced('streaming', {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}`,
      ...FAST_EXPORT,
    });
    for (let i = 0; i < 5; i++) expect((await send(`${wd.url}/down`)).status).toBe(200);
    await until(
      async () =>
        metricValue(await scrapeMetrics(metricsPort), 'fwatchdog_trace_spans_dropped_total{reason="export_failed"}') >=
        1,
      5000,
      'the failed export counted',
    );
    expect(wd.stderr.match(/trace export to .* failed/g)?.length).toBe(1);
    expect(wd.child.exitCode).toBeNull();
  });

  it('slow: with the export held, requests are answered; past the bounded queue spans are dropped (queue_full) and counted', async () => {
    const receiver = await startOtlpReceiver();
    receiver.hold();
    const { wd, metricsPort } = await startTraced('streaming', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '20',
      OTEL_EXPORTER_OTLP_TIMEOUT: '10000',
      OTEL_BSP_MAX_QUEUE_SIZE: '2',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1',
    });
    expect((await send(`${wd.url}/first`)).status).toBe(200);
    await until(() => receiver.posts >= 1, 3000, 'the first export, held by the collector');
    for (let i = 0; i < 10; i++) expect((await send(`${wd.url}/while-held`)).status).toBe(200);
    expect(
      metricValue(await scrapeMetrics(metricsPort), 'fwatchdog_trace_spans_dropped_total{reason="queue_full"}'),
    ).toBeGreaterThanOrEqual(7);
    receiver.release();
  });
});

describe("inproc: the handler's own @opentelemetry/api", () => {
  it("sees the watchdog's span as active, and its spans are exported as its children", async () => {
    const receiver = await startOtlpReceiver();
    // The handler's own node_modules: a copy of @opentelemetry/api, not the watchdog's (which is bundled).
    const apiDir = makeTmpDir('fwd-otel-api-');
    mkdirSync(join(apiDir, 'node_modules', '@opentelemetry'), { recursive: true });
    cpSync(join(ROOT, 'node_modules', '@opentelemetry', 'api'), join(apiDir, 'node_modules', '@opentelemetry', 'api'), {
      recursive: true,
    });
    const { wd } = await startTraced('inproc', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      ...FAST_EXPORT,
      OTEL_API_DIR: apiDir,
    });
    const res = await send(`${wd.url}/span`, { headers: { traceparent: TRACEPARENT, 'X-Call-Id': 'inproc-span' } });
    const got = JSON.parse(res.text) as { active: { traceId: string; spanId: string } | null; own: string };
    const server = await spanOf(
      receiver,
      (s) => s.attributes['fwatchdog.call_id'] === 'inproc-span',
      'the watchdog span',
    );
    expect(got.active).toEqual({ traceId: TRACE_ID, spanId: server.spanId });
    const own = await spanOf(receiver, (s) => s.name === 'handler-work', "the handler's span");
    expect(own).toMatchObject({
      traceId: TRACE_ID,
      spanId: got.own,
      parentSpanId: server.spanId,
      scope: 'trace-handler',
    });
  });
});
