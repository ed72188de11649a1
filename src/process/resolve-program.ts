// Resolves the function's program to an absolute path once, at start-up.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export type ResolveResult = { ok: true; path: string } | { ok: false; reason: string };

/** Looks `program` up like execvp: a name with a slash is a path, anything else is searched in PATH. */
export function resolveProgram(program: string, pathEnv: string | undefined, cwd: string): ResolveResult {
  if (program.includes('/')) {
    const full = isAbsolute(program) ? program : resolve(cwd, program);
    return isExecutableFile(full) ? { ok: true, path: full } : { ok: false, reason: `${full} is not an executable file` };
  }
  const dirs = (pathEnv ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter);
  for (const dir of dirs) {
    const full = join(dir === '' ? cwd : resolve(cwd, dir), program);
    if (isExecutableFile(full)) return { ok: true, path: full };
  }
  return { ok: false, reason: `"${program}" was not found in PATH (${pathEnv ?? ''})` };
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    // Missing or not executable: the caller tries the next candidate.
    return false;
  }
}
