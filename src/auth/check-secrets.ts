// The start-up check: every required secret exists and is readable in secret_mount_path.
import { join } from 'node:path';
import type { WatchdogConfig } from '../config/load-config.js';
import { readSecret } from './secret-file.js';

/** Returns one message naming every missing, unreadable or (for auth) empty secret, or undefined when all are fine. */
export function checkSecrets(
  config: Pick<WatchdogConfig, 'secretMountPath' | 'secrets' | 'authApiKeySecret' | 'authHmacSecret'>,
): string | undefined {
  const auth = new Set<string>();
  if (config.authApiKeySecret !== undefined) auth.add(config.authApiKeySecret);
  if (config.authHmacSecret !== undefined) auth.add(config.authHmacSecret);
  const names = [...new Set([...config.secrets, ...auth])];
  const problems: string[] = [];
  for (const name of names) {
    const read = readSecret(join(config.secretMountPath, name));
    if (!read.ok) problems.push(`${name} (${read.problem})`);
    else {
      // Only the auth secrets' values are used by the watchdog; an empty key would be a hole.
      if (auth.has(name) && read.secret.length === 0) problems.push(`${name} (is empty)`);
      read.secret.fill(0);
    }
  }
  if (problems.length === 0) return undefined;
  return (
    `${problems.length} secret(s) missing or unusable in secret_mount_path=${config.secretMountPath}: ${problems.join(', ')}; ` +
    "create them (e.g. faas-cli secret create NAME) and list them under the function's secrets, or set secret_mount_path to the folder that holds them"
  );
}
