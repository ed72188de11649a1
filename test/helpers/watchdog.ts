// Test helpers: start a real watchdog on port 0 with a temp TMPDIR and an in-memory log sink.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { loadConfig, type WatchdogConfig } from '../../src/config/load-config.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { bootWatchdog, type Booted } from '../../src/server/boot.js';
import type { RequestGuard } from '../../src/auth/request-guard.js';
import type { Spawner } from '../../src/process/spawner.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** Absolute path of a fixture executable. */
export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** Rejects with a named error if `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A log sink that keeps every line in memory. */
export class MemorySink {
  readonly lines: string[] = [];
  write(chunk: string): boolean {
    for (const line of chunk.split('\n')) if (line !== '') this.lines.push(line);
    return true;
  }
  get text(): string {
    return this.lines.join('\n');
  }
  /** Resolves once a line matching `pattern` has been written. */
  async waitFor(pattern: RegExp | string, ms = 2000): Promise<string> {
    const test = (l: string): boolean => (typeof pattern === 'string' ? l.includes(pattern) : pattern.test(l));
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(test);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline)
        throw new Error(`no log line matched ${String(pattern)} in ${ms}ms; got:\n${this.text}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export interface TestWatchdog extends Booted {
  url: string;
  config: WatchdogConfig;
  logs: MemorySink;
  out: MemorySink;
  logger: Logger;
  tmpDir: string;
  fatal: string[];
}

export function makeTmpDir(prefix = 'fwd-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Builds a config from env strings (defaults: port 0, metrics off, temp TMPDIR); throws on problems. */
export function testConfig(env: Record<string, string>, tmpDir: string): WatchdogConfig {
  const loaded = loadConfig({ port: '0', metrics_port: '0', TMPDIR: tmpDir, PATH: process.env.PATH, ...env });
  if (!loaded.ok) throw new Error(`bad test config:\n${loaded.problems.join('\n')}`);
  return loaded.config;
}

/**
 * Starts a watchdog like main.ts does (but in-process), waits until it is ready, and registers
 * its teardown. `env` are the watchdog's environment variables as strings.
 */
export async function startWatchdog(
  env: Record<string, string>,
  options: {
    waitReady?: boolean;
    guard?: RequestGuard;
    spawner?: Spawner;
    configure?: (c: WatchdogConfig) => void;
  } = {},
): Promise<TestWatchdog> {
  const tmpDir = makeTmpDir();
  const config = testConfig(env, tmpDir);
  options.configure?.(config);
  const logs = new MemorySink();
  const out = new MemorySink();
  const logger = createLogger({
    format: config.logFormat,
    prefixLogs: config.prefixLogs,
    err: logs,
    out,
    debug: config.writeDebug || config.debugHeaders,
    textCallIds: config.logCallId,
  });
  const fatal: string[] = [];
  const processEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) processEnv[k] = v;
  const booted = await bootWatchdog({
    config,
    logger,
    env: { ...processEnv, ...env },
    cwd: process.cwd(),
    onFatal: (m) => fatal.push(m),
    ...(options.guard ? { guard: options.guard } : {}),
    ...(options.spawner ? { spawner: options.spawner } : {}),
  });
  onTestFinished(async () => {
    await withTimeout(booted.watchdog.abort(), 5000, 'watchdog teardown');
  });
  if (options.waitReady !== false) await withTimeout(booted.watchdog.markReadyWhenReady(5000), 6000, 'watchdog ready');
  return { ...booted, url: `http://127.0.0.1:${booted.port}`, config, logs, out, logger, tmpDir, fatal };
}
