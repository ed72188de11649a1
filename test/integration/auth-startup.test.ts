import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { ensureBundle, runCli } from '../helpers/cli.js';
import { makeTmpDir, withTimeout } from '../helpers/watchdog.js';

beforeAll(() => withTimeout(ensureBundle(), 60_000, 'npm run build'), 70_000);

describe('secrets at start-up (built binary)', () => {
  it('exits 2 before listening and names every missing secret', async () => {
    const mount = createSecretMount({ present: 'x' });
    const tmp = makeTmpDir();
    const { code, stdout, stderr } = await runCli([], {
      fprocess: 'cat',
      port: '0',
      metrics_port: '0',
      TMPDIR: tmp,
      secret_mount_path: mount.path,
      secrets: 'present,db-password',
      auth_api_key_secret: 'api-key',
      auth_hmac_secret: 'hook-secret',
    });
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
    const mount = createSecretMount({ 'api-key': 'print-config-must-not-show-this' });
    const run = await runCli(['--print-config'], {
      fprocess: 'cat',
      secret_mount_path: mount.path,
      auth_api_key_secret: 'api-key',
    });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('print-config-must-not-show-this');
    const out = run.stdout;
    expect(JSON.parse(out)).toMatchObject({ auth_api_key_secret: 'api-key', secret_mount_path: mount.path });
    expect(out).not.toContain('print-config-must-not-show-this');
  });
});
