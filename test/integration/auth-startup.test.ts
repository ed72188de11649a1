import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { makeTmpDir, withTimeout } from '../helpers/watchdog.js';

const BINARY = join(import.meta.dirname, '..', '..', 'dist', 'fwatchdog.cjs');

/** Runs the built watchdog with `env` until it exits; returns its exit code and output. */
function runBinary(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BINARY], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('secrets at start-up (built binary)', () => {
  it('exits 2 before listening and names every missing secret', async () => {
    expect(existsSync(BINARY), 'run npm run build first').toBe(true);
    const mount = createSecretMount({ present: 'x' });
    const tmp = makeTmpDir();
    const { code, stdout, stderr } = await withTimeout(
      runBinary({ fprocess: 'cat', port: '0', metrics_port: '0', TMPDIR: tmp, secret_mount_path: mount.path, secrets: 'present,db-password', auth_api_key_secret: 'api-key', auth_hmac_secret: 'hook-secret' }),
      5000,
      'the watchdog to exit',
    );
    expect(code).toBe(2);
    const out = stdout + stderr;
    expect(out).toContain('db-password (not found)');
    expect(out).toContain('api-key (not found)');
    expect(out).toContain('hook-secret (not found)');
    expect(out).not.toMatch(/present \(/);
    expect(out).not.toContain('Listening on port');
    expect(existsSync(join(tmp, '.lock'))).toBe(false);
  });

  it('keeps secret values out of --print-config', async () => {
    expect(existsSync(BINARY), 'run npm run build first').toBe(true);
    const mount = createSecretMount({ 'api-key': 'print-config-must-not-show-this' });
    const child = spawn(process.execPath, [BINARY, '--print-config'], {
      env: { PATH: process.env.PATH ?? '', fprocess: 'cat', secret_mount_path: mount.path, auth_api_key_secret: 'api-key' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await withTimeout(new Promise((r) => child.on('close', r)), 5000, '--print-config');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ auth_api_key_secret: 'api-key', secret_mount_path: mount.path });
    expect(out).not.toContain('print-config-must-not-show-this');
  });
});
