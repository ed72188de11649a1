// Reads an OpenFaaS secret from $secret_mount_path (default /var/openfaas/secrets), set by the watchdog.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The secret NAME without its trailing newline, or undefined when no such secret is mounted. */
export function readSecret(name: string): string | undefined {
  if (name === '' || name.includes('/') || name.startsWith('.'))
    throw new Error(`invalid secret name ${JSON.stringify(name)}`);
  const dir = process.env.secret_mount_path || '/var/openfaas/secrets';
  try {
    return readFileSync(join(dir, name), 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
