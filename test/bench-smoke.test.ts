// CI smoke of the benchmark suite: each scenario runs for about a second and writes sane JSON (speed is never asserted).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeTmpDir, withTimeout } from './helpers/watchdog.js';

const ROOT = join(import.meta.dirname, '..');

interface Row {
  scenario: string;
  case: string;
  target: string;
  metric: string;
  error?: string;
  errors?: number;
  ratio?: number;
  reqPerSec?: number;
  mbPerSec?: number;
  startupMs?: number;
  p50Ms?: number;
  p99Ms?: number;
  peakRssMb?: number;
  rssMb?: number;
  cpuMs?: number;
}

interface Report {
  watchdog: string;
  machine: { cpus: number; node: string };
  rows: Row[];
}

/** Runs `node bench/run.mjs <args>` to completion; resolves its exit code and output. */
function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', 'run.mjs'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    onTestFinished(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // ESRCH: the suite and everything it started have already exited.
      }
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function smoke(scenario: string, extra: string[] = []): Promise<Row[]> {
  const out = join(makeTmpDir('fwd-bench-smoke-'), 'result.json');
  const { code, output } = await withTimeout(
    runBench([scenario, '--duration', '1', '--out', out, ...extra]),
    50_000,
    `bench ${scenario}`,
  );
  expect(existsSync(out), output).toBe(true);
  const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
  expect(report.machine.cpus).toBeGreaterThan(0);
  expect(report.watchdog).toMatch(/fwatchdog/);
  const rows = report.rows.filter((r) => r.scenario === scenario);
  expect(rows.length, output).toBeGreaterThan(0);
  // The printed table carries the same rows.
  expect(output).toContain(`| ${scenario}`);
  for (const row of rows) {
    expect(row.error, `${row.target} ${row.case}: ${row.error}\n${output}`).toBeUndefined();
    const value = row[row.metric as 'reqPerSec' | 'mbPerSec' | 'startupMs'];
    expect(
      typeof value === 'number' && Number.isFinite(value) && value > 0,
      `${row.target} ${row.case} ${row.metric}=${String(value)}`,
    ).toBe(true);
    if (row.target === 'fwatchdog') expect(row.ratio).toBeGreaterThan(0);
  }
  expect(code, output).toBe(0);
  return rows;
}

describe('bench suite smoke', { timeout: 60_000 }, () => {
  it('fork reports req/s, p50 and p99 for classic, streaming and serializing beside the plain spawn baseline', async () => {
    const rows = await smoke('fork');
    expect(rows.filter((r) => r.target === 'fwatchdog').map((r) => r.case.split(' ')[0])).toEqual([
      'classic',
      'streaming',
      'serializing',
    ]);
    for (const r of rows) {
      expect(r.errors).toBe(0);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms as number);
    }
  });

  it('stream-big reports MB/s and the peak RSS of the watchdog and the baseline, beside the bare cat pipe', async () => {
    const rows = await smoke('stream-big', ['--stream-mib', '16']);
    expect(rows.map((r) => r.target)).toEqual(['cat pipe', 'baseline', 'fwatchdog']);
    for (const r of rows) {
      expect(r.errors).toBe(0);
      if (r.target !== 'cat pipe') expect(r.peakRssMb).toBeGreaterThan(0);
    }
  });

  it('startup reports, in every mode, the median time to the first 200 on /_/ready, the CPU used by then and the idle RSS', async () => {
    const rows = await smoke('startup', ['--startup-runs', '2']);
    expect(rows.some((r) => r.target === 'baseline')).toBe(true);
    expect(rows.some((r) => r.case.startsWith('node dist/fwatchdog.cjs'))).toBe(true);
    for (const mode of ['streaming', 'serializing', 'classic', 'http', 'static', 'inproc'])
      expect(
        rows.some((r) => r.target === 'fwatchdog' && r.case.includes(`mode=${mode}`)),
        mode,
      ).toBe(true);
    for (const r of rows) {
      expect(r.rssMb).toBeGreaterThan(0);
      expect(r.cpuMs).toBeGreaterThan(0);
    }
  });

  it('http reports req/s for GET and a 1 KiB POST through mode=http beside the bare upstream', async () => {
    const rows = await smoke('http');
    expect(new Set(rows.map((r) => r.case)).size).toBe(2);
  });

  it('http-stream reports MB/s of a 64 MiB response through mode=http beside the bare upstream', async () => {
    await smoke('http-stream');
  });

  it('rejects an unknown scenario with exit code 2 and the list of scenarios', async () => {
    const { code, output } = await withTimeout(runBench(['no-such-scenario']), 10_000, 'bench usage error');
    expect(code).toBe(2);
    expect(output).toContain('fork');
  });
});
