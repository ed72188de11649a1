// Test helper: a secret mount laid out like Kubernetes' (files are symlinks through an atomically swapped `..data`).
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTmpDir } from './watchdog.js';

export interface SecretMount {
  readonly path: string;
  /** Replaces every secret at once, as the kubelet does: a new timestamped folder, then `..data` swapped by rename. */
  rotate(secrets: Record<string, string>): void;
}

let generation = 0;

/** Creates `<tmp>/secrets` holding `secrets` (name -> exact file content); removed when the test ends. */
export function createSecretMount(secrets: Record<string, string>): SecretMount {
  const path = join(makeTmpDir('fwd-secrets-'), 'secrets');
  mkdirSync(path);
  const writeGeneration = (values: Record<string, string>): string => {
    const dir = `..2026_11_25_12_00_00.${process.pid}${generation++}`;
    mkdirSync(join(path, dir), { mode: 0o755 });
    for (const [name, value] of Object.entries(values)) writeFileSync(join(path, dir, name), value, { mode: 0o644 });
    return dir;
  };
  const first = writeGeneration(secrets);
  symlinkSync(first, join(path, '..data'));
  for (const name of Object.keys(secrets)) symlinkSync(join('..data', name), join(path, name));
  return {
    path,
    rotate(values) {
      const old = readlinkSync(join(path, '..data'));
      const next = writeGeneration(values);
      symlinkSync(next, join(path, '..data_tmp'));
      renameSync(join(path, '..data_tmp'), join(path, '..data'));
      rmSync(join(path, old), { recursive: true, force: true });
    },
  };
}
