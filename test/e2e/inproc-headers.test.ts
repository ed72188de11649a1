// inproc's answers and requests against the other modes' (the built binary): X-Duration-Seconds is sent as
// in http and the fork modes; X-Forwarded-For follows the one rule of every mode (only a proxy hop appends).
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, startBinary } from '../helpers/binary.js';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

describe('inproc headers', () => {
  it("sends X-Duration-Seconds (six decimals, as Go prints it) on the handler's answer", async () => {
    const wd = await startBinary({ mode: 'inproc', fprocess: fixture('inproc/handler.mjs'), TMPDIR: makeTmpDir() });
    await wd.waitReady();
    const res = await send(`${wd.url}/echo`, { method: 'POST', body: 'hi' });
    expect(res.status).toBe(200);
    expect(res.headers['x-duration-seconds']).toMatch(/^\d+\.\d{6}$/);
    const slow = await send(`${wd.url}/slow?ms=300`);
    expect(Number(slow.headers['x-duration-seconds'])).toBeGreaterThanOrEqual(0.3);
  });

  it('hands X-Forwarded-For to the handler as the client sent it (the watchdog is no proxy hop here)', async () => {
    const wd = await startBinary({ mode: 'inproc', fprocess: fixture('inproc/handler.mjs'), TMPDIR: makeTmpDir() });
    await wd.waitReady();
    const res = await send(`${wd.url}/headers`, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    expect((JSON.parse(res.text) as { headers: Record<string, string> }).headers['x-forwarded-for']).toBe(
      '203.0.113.7',
    );
  });
});
