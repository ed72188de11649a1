// Finds and loads a native addon (spawn, reaper): a SEA asset of the binary, a file next to it or the script, or the dev build.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { addonFile } from './addon-file.js';

/** What loading needs from the process (passed in by main.ts, the only file that touches it). */
export interface AddonLoadInput {
  /** process.dlopen. */
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

/** One addon: its file name, its folder under native/, and how to tell it from another file. */
export interface AddonSpec<A> {
  /** e.g. spawn.node: the SEA asset key and the file name next to the binary. */
  readonly file: string;
  /** Its folder under native/ (the dev build is native/<folder>/build/Release/<file>). */
  readonly folder: string;
  /** True when the loaded exports are this addon. */
  isAddon(exports: Partial<A>): boolean;
}

/** The loaded addon and where it came from, or why it could not be loaded and where it was looked for. */
export type AddonLoad<A> = { ok: true; addon: A; from: string } | { ok: false; reason: string; tried: string[] };

/** Where the addon may be, in order: next to the binary, its dev build, next to the script, its dev build. */
export function addonCandidates(
  spec: AddonSpec<unknown>,
  input: Pick<AddonLoadInput, 'execPath' | 'scriptPath'>,
): string[] {
  const dev = (dir: string): string => join(dir, '..', 'native', spec.folder, 'build', 'Release', spec.file);
  const out = [join(dirname(input.execPath), spec.file), dev(dirname(input.execPath))];
  if (input.scriptPath !== undefined)
    out.push(join(dirname(input.scriptPath), spec.file), dev(dirname(input.scriptPath)));
  return out;
}

/** Loads the addon from the single-file binary's assets, else from the first candidate file that works. */
export function loadAddon<A>(spec: AddonSpec<A>, input: AddonLoadInput): AddonLoad<A> {
  const tried: string[] = [];
  let reason = 'not found';
  const tryFile = (file: string): A | undefined => {
    tried.push(file);
    try {
      const mod = { exports: {} as unknown };
      input.dlopen(mod, file);
      if (spec.isAddon(mod.exports as Partial<A>)) return mod.exports as A;
      reason = `${file} is not the ${spec.folder} addon`;
    } catch (err) {
      reason = (err as Error).message;
    }
    return undefined;
  };
  const asset = seaAsset(spec.file);
  if (asset !== undefined) {
    // A file kept in TMPDIR across starts (src/process/addon-file.ts); a private copy if that fails.
    try {
      const addon = tryFile(
        addonFile(asset, spec.file, input.tmpDir ?? tmpdir(), input.uid, seaAddonIds()?.[spec.file]),
      );
      if (addon !== undefined) return { ok: true, addon, from: `asset ${spec.file}` };
    } catch {
      // TMPDIR not writable, or the name taken by another user's file: the private copy below.
    }
    try {
      const dir = mkdtempSync(join(input.tmpDir ?? tmpdir(), 'fwatchdog-'));
      const file = join(dir, spec.file);
      writeFileSync(file, asset, { mode: 0o500 });
      const addon = tryFile(file);
      // Once loaded the mapping stays valid: nothing is left behind in TMPDIR.
      rmSync(dir, { recursive: true, force: true });
      if (addon !== undefined) return { ok: true, addon, from: `asset ${spec.file}` };
    } catch (err) {
      reason = `cannot extract the ${spec.file} asset: ${(err as Error).message}`;
    }
  }
  const candidates = addonCandidates(spec, input);
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const addon = tryFile(file);
    if (addon !== undefined) return { ok: true, addon, from: file };
  }
  return {
    ok: false,
    reason: tried.length > 0 ? reason : `not found (looked for ${candidates.join(', ')})`,
    tried: tried.length > 0 ? tried : candidates,
  };
}

interface Sea {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
  getAsset(key: string, encoding: string): string;
}

/** node:sea when running as a single-file binary, else undefined. */
function seaModule(): Sea | undefined {
  // The bundle is CommonJS (inside a binary require() sees built-ins only); node:sea exists from Node 20.12.
  if (typeof require !== 'function') return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a static import would break Node < 20.12 at load
    const sea = require('node:sea') as Sea;
    return sea.isSea() ? sea : undefined;
  } catch {
    // Node < 20.12: no single-file binary support.
    return undefined;
  }
}

/** The addon bytes when running as a single-file binary that carries it as an asset. */
function seaAsset(key: string): Buffer | undefined {
  try {
    const sea = seaModule();
    return sea === undefined ? undefined : Buffer.from(sea.getAsset(key));
  } catch {
    // It carries no such asset: files on disk are tried next.
    return undefined;
  }
}

/** The binary's ADDON_IDS_ASSET (file -> fnv1a of its bytes, written by scripts/build-binary.mjs), if any. */
function seaAddonIds(): Record<string, string> | undefined {
  try {
    return JSON.parse(seaModule()?.getAsset(ADDON_IDS_ASSET, 'utf8') ?? 'null') ?? undefined;
  } catch {
    // An older binary without it: the id is computed from the bytes.
    return undefined;
  }
}

/** The asset of the single-file binary naming each addon asset's content id (see addon-file.ts). */
export const ADDON_IDS_ASSET = 'addon-ids.json';
