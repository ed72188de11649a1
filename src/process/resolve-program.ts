// Resolves the function's program to an absolute path once, at start-up.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export type ResolveResult = { ok: true; path: string } | { ok: false; reason: string };

/** Looks `program` up like execvp: a name with a slash is a path, anything else is searched in PATH. */
export function resolveProgram(program: string, pathEnv: string | undefined, cwd: string): ResolveResult {
  if (program.includes('/')) {
    const full = isAbsolute(program) ? program : resolve(cwd, program);
    return isExecutableFile(full)
      ? { ok: true, path: full }
      : { ok: false, reason: `${full} is not an executable file` };
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

/** inproc: the module file named by fprocess, relative to the working directory; it must be a readable file. */
export function resolveModuleFile(file: string, cwd: string): ResolveResult {
  const full = isAbsolute(file) ? file : resolve(cwd, file);
  try {
    if (statSync(full).isDirectory())
      return {
        ok: false,
        reason: `${full} is a directory: name the module file itself, e.g. ${join(file, 'index.mjs')}`,
      };
    accessSync(full, constants.R_OK);
    return { ok: true, path: full };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason: code === 'ENOENT' ? `${full} does not exist` : `${full} cannot be read (${code ?? String(err)})`,
    };
  }
}
