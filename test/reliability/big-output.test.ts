// A function that writes a 1 MiB stderr line then 10 MiB of stderr: the request completes, memory stays bounded.
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { memoryKiB, report, startBinary } from './support.js';

const RUNS = 3;
/**
 * Loose bound on peak RSS growth: V8 and malloc keep ~60-120 MiB of slack after 11 MiB of output
 * went through as 64 KiB pipe reads and 10k log lines; buffering it all per run would climb past it.
 */
const MAX_GROWTH_KIB = 160 * 1024;

describe('huge function output', () => {
  it('completes every request, cuts the 1 MiB log line, and keeps RSS bounded across runs', async () => {
    const wd = await startBinary(
      { fprocess: fixture('long-stderr-line'), TMPDIR: makeTmpDir() },
      { discardOutput: true },
    );
    const before = memoryKiB(wd.pid);
    const after: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 10_000, `request ${i + 1}`);
      expect(res.status).toBe(200);
      expect(res.text).toBe('ok');
      after.push(memoryKiB(wd.pid).rss);
    }
    const peak = memoryKiB(wd.pid).hwm;
    expect(wd.stderr).toContain('line cut at log_buffer_size');
    report('function writes a 1 MiB line then 10 MiB of stderr', {
      rssBeforeKiB: before.rss,
      rssAfterKiB: after,
      peakKiB: peak,
    });
    expect(peak - before.rss).toBeLessThan(MAX_GROWTH_KIB);
  });

  it.each([
    ['serializing', {}],
    ['classic', { combine_output: 'false' }],
  ])('%s mode completes the request and the next one after the same output', async (mode, extra) => {
    const wd = await startWatchdog({ mode, fprocess: fixture('long-stderr-line'), ...extra });
    for (let i = 0; i < 2; i++) {
      const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 10_000, `request ${i + 1}`);
      expect(res.status).toBe(200);
      expect(res.text).toBe('ok');
    }
  });
});
