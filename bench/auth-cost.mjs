// Measures the per-request cost of the API-key guard: cached secret (the default 250ms recheck) vs a stat on every request.
// Usage: node bench/auth-cost.mjs   (bundles src/auth with esbuild into a temp folder, then times the guard in-process)
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import process from 'node:process';

const dir = mkdtempSync(join(tmpdir(), 'fwd-auth-bench-'));
try {
  const out = join(dir, 'guard.mjs');
  await build({
    entryPoints: ['src/auth/create-auth-guard.ts'],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    packages: 'external',
  });
  const { createAuthGuard } = await import(pathToFileURL(out).href);

  // A Kubernetes-style mount: api-key -> ..data/api-key, ..data -> ..<timestamp>/
  const mount = join(dir, 'secrets');
  mkdirSync(join(mount, '..2026_01_01'), { recursive: true });
  writeFileSync(join(mount, '..2026_01_01', 'api-key'), 'bench-key\n');
  symlinkSync('..2026_01_01', join(mount, '..data'));
  symlinkSync('..data/api-key', join(mount, 'api-key'));

  const logger = { debug() {}, info() {}, warn() {}, error() {}, functionLine() {}, debugEnabled: false };
  const config = {
    secretMountPath: mount,
    authApiKeySecret: 'api-key',
    authApiKeyHeader: 'x-api-key',
    authHmacSecret: undefined,
    authHmacHeader: 'x-hub-signature-256',
    maxBodyBytes: 0,
  };
  const body = new PassThrough();
  const N = 200_000;

  const time = (label, guard, headers) => {
    const req = { headers, rawHeaders: [] };
    for (let i = 0; i < 20_000; i++) guard({ headers: { ...headers }, rawHeaders: [] }, body); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      req.headers = { ...headers };
      guard(req, body);
    }
    const usPerCall = ((performance.now() - t0) * 1000) / N;
    process.stdout.write(`${label.padEnd(44)} ${usPerCall.toFixed(2)} µs/request\n`);
  };

  const baseline = (req, b) => b;
  time('no guard (header object copy only)', baseline, { 'x-api-key': 'bench-key' });
  time('API key ok, secret cached (recheck 250ms)', createAuthGuard(config, { logger }), { 'x-api-key': 'bench-key' });
  time('API key wrong, secret cached', createAuthGuard(config, { logger }), { 'x-api-key': 'bench-kez' });
  time('API key ok, stat on every request', createAuthGuard(config, { logger, recheckMs: 0 }), {
    'x-api-key': 'bench-key',
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
