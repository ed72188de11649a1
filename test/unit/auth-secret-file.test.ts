import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSecrets } from '../../src/auth/check-secrets.js';
import { createSecretFile } from '../../src/auth/secret-file.js';
import { createLogger } from '../../src/log/logger.js';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { makeTmpDir, MemorySink } from '../helpers/watchdog.js';

function quietLogger() {
  const sink = new MemorySink();
  return { sink, logger: createLogger({ format: 'text', prefixLogs: true, err: sink, out: sink }) };
}

describe('secret files', () => {
  it('gives the value trimmed of surrounding whitespace', () => {
    const mount = createSecretMount({ key: '  s3cret \r\n' });
    const { logger } = quietLogger();
    const file = createSecretFile(mount.path, 'key', { logger, derive: (b) => b.toString() });
    expect(file.current()).toEqual({ ok: true, value: 's3cret' });
  });

  it('keeps the cached value within the recheck window and sees a ..data swap after it', () => {
    const mount = createSecretMount({ key: 'one' });
    const { logger, sink } = quietLogger();
    let now = 1000;
    let derived = 0;
    const file = createSecretFile(mount.path, 'key', {
      logger,
      recheckMs: 250,
      now: () => now,
      derive: (b) => (derived++, b.toString()),
    });
    expect(file.current()).toEqual({ ok: true, value: 'one' });
    mount.rotate({ key: 'two' });
    now += 100;
    expect(file.current()).toEqual({ ok: true, value: 'one' });
    now += 200;
    expect(file.current()).toEqual({ ok: true, value: 'two' });
    now += 300;
    expect(file.current()).toEqual({ ok: true, value: 'two' });
    expect(derived).toBe(2);
    expect(sink.text).toContain('secret "key" changed');
    expect(sink.text).not.toMatch(/one|two/);
  });

  it('notices an in-place rewrite of a plain file', () => {
    const dir = makeTmpDir();
    writeFileSync(join(dir, 'key'), 'first');
    const { logger } = quietLogger();
    let now = 0;
    const file = createSecretFile(dir, 'key', { logger, recheckMs: 10, now: () => now, derive: (b) => b.toString() });
    expect(file.current()).toEqual({ ok: true, value: 'first' });
    writeFileSync(join(dir, 'key'), 'second-longer');
    now += 20;
    expect(file.current()).toEqual({ ok: true, value: 'second-longer' });
  });

  it('fails closed on a missing or whitespace-only file', () => {
    const mount = createSecretMount({ blank: ' \n' });
    const { logger, sink } = quietLogger();
    expect(createSecretFile(mount.path, 'blank', { logger, derive: (b) => b }).current()).toEqual({
      ok: false,
      problem: 'is empty',
    });
    expect(createSecretFile(mount.path, 'absent', { logger, derive: (b) => b }).current()).toEqual({
      ok: false,
      problem: 'not found',
    });
    expect(sink.text).toContain('secret "absent"');
  });
});

describe('the start-up secret check', () => {
  const base = { secrets: [] as string[], authApiKeySecret: undefined, authHmacSecret: undefined };

  it('passes when every secret is there', () => {
    const mount = createSecretMount({ db: 'x', key: 'k' });
    expect(
      checkSecrets({ ...base, secretMountPath: mount.path, secrets: ['db'], authApiKeySecret: 'key' }),
    ).toBeUndefined();
  });

  it('names every missing, unreadable or empty secret at once', () => {
    const mount = createSecretMount({ present: 'x', 'empty-key': '\n', 'empty-plain': '' });
    mkdirSync(join(mount.path, 'a-dir'));
    const message = checkSecrets({
      ...base,
      secretMountPath: mount.path,
      secrets: ['present', 'db-password', 'a-dir', 'empty-plain'],
      authApiKeySecret: 'empty-key',
      authHmacSecret: 'hook',
    });
    expect(message).toBeDefined();
    expect(message).toContain('db-password (not found)');
    expect(message).toContain('a-dir (is a directory)');
    expect(message).toContain('empty-key (is empty)');
    expect(message).toContain('hook (not found)');
    expect(message).toContain(`secret_mount_path=${mount.path}`);
    // A listed secret may be empty; only the auth secrets must have a value.
    expect(message).not.toContain('empty-plain');
    expect(message).not.toMatch(/present \(/);
  });

  // Root reads any file, so a permission problem cannot be made when the tests run as root.
  it.skipIf(process.getuid?.() === 0)('reports an unreadable secret', () => {
    const dir = makeTmpDir();
    writeFileSync(join(dir, 'locked'), 'x');
    chmodSync(join(dir, 'locked'), 0o000);
    expect(checkSecrets({ ...base, secretMountPath: dir, secrets: ['locked'] })).toContain(
      'locked (not readable (permission denied))',
    );
  });
});
