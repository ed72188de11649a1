// Builds a dist/ artifact with an npm script unless it is newer than src/, one test file at a time.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/** One lock for every build, so test files never rewrite dist/ while another one runs it. */
const BUILD_LOCK = join(ROOT, 'dist', '.cli-test-build-lock');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Runs `npm run <script>` to (re)build `artifact` unless it is newer than every file in src/. */
export async function buildOnce(artifact: string, script: string, maxWaitMs: number): Promise<void> {
  mkdirSync(dirname(BUILD_LOCK), { recursive: true });
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A stale lock (a killed run) older than the longest build is taken over.
      const heldMs = Date.now() - (statSync(BUILD_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (heldMs > maxWaitMs) break;
      if (Date.now() > deadline) throw new Error(`build lock ${BUILD_LOCK} held for too long`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    if (!existsSync(artifact) || statSync(artifact).mtimeMs < newestMtimeMs(join(ROOT, 'src'))) {
      execFileSync('npm', ['run', script, '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    }
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}
