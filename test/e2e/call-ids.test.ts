// Call ids and W3C trace context under the built binary, in every mode: the id on the access line and on the
// function's output lines of that call, the same id given to the function, traceparent/tracestate passed on.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary, type RunningBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Mode = 'classic' | 'streaming' | 'serializing' | 'http' | 'inproc';

/** Starts the binary in `mode` on the tracing fixture of that mode (JSON logs unless `env` says otherwise). */
export async function startTraced(mode: Mode, env: Record<string, string> = {}): Promise<RunningBinary> {
  const tmp = makeTmpDir();
  const base: Record<string, string> = {
    mode,
    TMPDIR: tmp,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    healthcheck_interval: '0',
    log_format: 'json',
    ...env,
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
  return wd;
}

/** What the function said it got: JSON (http, inproc) or the fork fixture's `call=… traceparent=… tracestate=…`. */
export function received(text: string): { callId?: string; traceparent?: string; tracestate?: string } {
  if (text.startsWith('{')) return JSON.parse(text) as { callId?: string; traceparent?: string; tracestate?: string };
  const m = /^call=(\S*) traceparent=(\S*) tracestate=(.*)$/.exec(text.trim());
  if (!m) throw new Error(`unexpected function answer: ${text}`);
  return { callId: m[1], traceparent: m[2], tracestate: m[3] };
}

/** The JSON log records of both streams. */
export function records(wd: RunningBinary): Record<string, unknown>[] {
  return `${wd.stderr}\n${wd.stdout}`
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits for the access line of `url` and returns it. */
export async function accessLine(wd: RunningBinary, url: string): Promise<Record<string, unknown>> {
  let line: Record<string, unknown> | undefined;
  await until(
    () => (line = records(wd).find((r) => r.msg === 'request' && r.url === url)) !== undefined,
    3000,
    `the access line of ${url}`,
  );
  return line as Record<string, unknown>;
}

/** The function's output lines (the watchdog's `stream` records) of mode's fixture that must carry the call id. */
const FUNCTION_LINES: Record<Mode, RegExp | undefined> = {
  classic: undefined, // classic logs its function's stderr as one `stderr:` line (checked below)
  streaming: /function stderr line/,
  serializing: /function stderr line/,
  http: undefined, // one long-lived upstream: its lines belong to no single call
  inproc: /handler line/,
};

const MODES: Mode[] = ['classic', 'streaming', 'serializing', 'http', 'inproc'];

describe.each(MODES)('mode=%s: call ids and trace context', (mode) => {
  it('uses the X-Call-Id that came in, gives it to the function, and puts it on the access line and the function lines of that call', async () => {
    const wd = await startTraced(mode, mode === 'classic' ? { write_debug: 'true', combine_output: 'false' } : {});
    const res = await send(`${wd.url}/given`, {
      method: 'POST',
      body: 'x',
      headers: { 'X-Call-Id': 'gw-call-1', traceparent: TRACEPARENT, tracestate: 'vendor=abc' },
    });
    expect(res.status).toBe(200);
    const got = received(res.text);
    expect(got.callId).toBe('gw-call-1');
    expect(got.traceparent).toBe(TRACEPARENT);
    expect(got.tracestate).toBe('vendor=abc');
    const line = await accessLine(wd, '/given');
    expect(line).toMatchObject({
      callId: 'gw-call-1',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
      status: 200,
    });
    const pattern = FUNCTION_LINES[mode];
    if (pattern !== undefined) {
      await until(
        () => records(wd).filter((r) => pattern.test(String(r.msg))).length >= (mode === 'inproc' ? 2 : 1),
        3000,
        'the function lines',
      );
      for (const r of records(wd).filter((r) => pattern.test(String(r.msg))))
        expect(r.callId, JSON.stringify(r)).toBe('gw-call-1');
    }
    if (mode === 'classic') {
      await until(
        () => records(wd).some((r) => String(r.msg).startsWith('stderr: function stderr line')),
        3000,
        'the stderr line',
      );
      expect(records(wd).find((r) => String(r.msg).startsWith('stderr: function stderr line'))?.callId).toBe(
        'gw-call-1',
      );
      expect(records(wd).find((r) => String(r.msg).startsWith('call=gw-call-1'))?.callId).toBe('gw-call-1');
    }
  });

  it('makes a call id when none (or an unusable one) came in, and the function gets the same id', async () => {
    const wd = await startTraced(mode, mode === 'classic' ? { combine_output: 'false' } : {});
    for (const [url, headers] of [
      ['/none', {}],
      ['/bad', { 'X-Call-Id': 'has spaces and "quotes"' }],
      ['/long', { 'X-Call-Id': 'a'.repeat(129) }],
    ] as const) {
      const res = await send(`${wd.url}${url}`, { headers });
      expect(res.status).toBe(200);
      const id = received(res.text).callId as string;
      expect(id, url).toMatch(UUID);
      const line = await accessLine(wd, url);
      expect(line.callId).toBe(id);
      expect(line.trace_id).toBeUndefined();
    }
  });
});

describe('text logs', () => {
  it('with log_callid, the access line ends in [call id] and the trace ids, and function lines say [call id]', async () => {
    const wd = await startTraced('streaming', { log_format: 'text', log_callid: 'true' });
    await send(`${wd.url}/t`, { headers: { 'X-Call-Id': 'txt-1', traceparent: TRACEPARENT } });
    await until(
      () =>
        /GET \/t - 200 - ContentLength: \S+ \([\d.]+s\) \[txt-1\] trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7\n/.test(
          wd.stderr,
        ),
      3000,
      'the text access line',
    );
    expect(wd.stderr).toMatch(/stderr \[txt-1\]: function stderr line/);
  });

  it("without log_callid, the text lines keep the originals' shape", async () => {
    const wd = await startTraced('streaming', { log_format: 'text' });
    await send(`${wd.url}/t`, { headers: { 'X-Call-Id': 'txt-2' } });
    await until(() => /GET \/t - 200 - ContentLength: \S+ \([\d.]+s\)\n/.test(wd.stderr), 3000, 'the text access line');
    expect(wd.stderr).not.toContain('txt-2');
    expect(wd.stderr).toMatch(/stderr: function stderr line/);
  });
});

describe('inproc: concurrent calls', () => {
  it('tags each output line with the call that wrote it, across awaits', async () => {
    const wd = await startTraced('inproc');
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => send(`${wd.url}/c${i}`, { headers: { 'X-Call-Id': `conc-${i}` } })),
    );
    await until(
      () => records(wd).filter((r) => r.msg === 'handler line after await').length === 8,
      3000,
      'eight handler lines',
    );
    for (let i = 0; i < 8; i++) {
      const before = records(wd).find((r) => r.msg === `handler line before await /c${i}`);
      expect(before?.callId).toBe(`conc-${i}`);
    }
    const ids = records(wd)
      .filter((r) => r.msg === 'handler line after await')
      .map((r) => r.callId)
      .sort();
    expect(ids).toEqual(Array.from({ length: 8 }, (_, i) => `conc-${i}`).sort());
  });
});
