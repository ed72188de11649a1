// Finds and loads the reaper addon: a SEA asset, a file next to the binary or script, or the dev build.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { addonFile } from './addon-file.js';
import type { ReaperAddon } from './reaper.js';

/** The addon's file name, next to the binary, the script, or as a SEA asset. */
export const REAPER_FILE = 'reaper.node';

export interface ReaperLoadInput {
  /** process.dlopen (only main.ts touches process). */
  dlopen(module: { exports: unknown }, filename: string): void;
  /** The running executable (the single-file binary, or node). */
  execPath: string;
  /** The script being run (dist/fwatchdog.cjs), if any. */
  scriptPath: string | undefined;
  /** Where a SEA asset may be extracted. */
  tmpDir: string | undefined;
  /** This process's user id (process.getuid()), which a reused addon file must belong to. */
  uid?: number | undefined;
}

export type ReaperLoad = { ok: true; addon: ReaperAddon; from: string } | { ok: false; tried: string[]; reason: string };

/** Where the addon may be, in order. */
export function reaperCandidates(input: Pick<ReaperLoadInput, 'execPath' | 'scriptPath'>): string[] {
  const out = [join(dirname(input.execPath), REAPER_FILE)];
  if (input.scriptPath !== undefined) {
    const dir = dirname(input.scriptPath);
    out.push(join(dir, REAPER_FILE), join(dir, '..', 'native', 'reaper', 'build', 'Release', REAPER_FILE));
  }
  return out;
}

/** Loads the addon from the single-file binary's assets or from the first candidate file that exists. */
export function loadReaperAddon(input: ReaperLoadInput): ReaperLoad {
  const tried: string[] = [];
  let lastError = 'not found';
  const tryFile = (file: string): ReaperAddon | undefined => {
    tried.push(file);
    try {
      const mod = { exports: {} as unknown };
      input.dlopen(mod, file);
      const addon = mod.exports as Partial<ReaperAddon>;
      if (typeof addon.zombieChildren === 'function' && typeof addon.reap === 'function') return addon as ReaperAddon;
      lastError = `${file} is not the reaper addon`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    return undefined;
  };

  const asset = seaAsset();
  if (asset !== undefined) {
    // A file kept in TMPDIR across starts (src/process/addon-file.ts); a private copy if that fails.
    try {
      const file = addonFile(asset, REAPER_FILE, input.tmpDir ?? tmpdir(), input.uid);
      const addon = tryFile(file);
      if (addon) return { ok: true, addon, from: `asset ${REAPER_FILE}` };
    } catch {
      // TMPDIR not writable, or the name taken by another user's file: the private copy below.
    }
    try {
      const dir = mkdtempSync(join(input.tmpDir ?? tmpdir(), 'fwatchdog-'));
      const file = join(dir, REAPER_FILE);
      writeFileSync(file, asset, { mode: 0o500 });
      const addon = tryFile(file);
      // Once loaded the mapping stays valid: nothing is left behind in TMPDIR.
      rmSync(dir, { recursive: true, force: true });
      if (addon) return { ok: true, addon, from: `asset ${REAPER_FILE}` };
    } catch (err) {
      lastError = `cannot extract the ${REAPER_FILE} asset: ${(err as Error).message}`;
    }
  }
  for (const file of reaperCandidates(input)) {
    if (!existsSync(file)) continue;
    const addon = tryFile(file);
    if (addon) return { ok: true, addon, from: file };
  }
  return { ok: false, tried: tried.length > 0 ? tried : reaperCandidates(input), reason: lastError };
}

/** The addon bytes when running as a single-file binary that carries it as an asset. */
function seaAsset(): Buffer | undefined {
  try {
    // The bundle is CommonJS (inside a binary require() sees built-ins only); node:sea exists from Node 20.12.
    if (typeof require !== 'function') return undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a static import would break Node < 20.12 at load
    const sea = require('node:sea') as { isSea(): boolean; getAsset(key: string): ArrayBuffer };
    if (!sea.isSea()) return undefined;
    return Buffer.from(sea.getAsset(REAPER_FILE));
  } catch {
    // No node:sea (older Node) or no such asset: fall back to files on disk.
    return undefined;
  }
}
