// Where a native addon carried inside the single-file binary is put on disk to be loaded (dlopen needs
// a file). One file per content, kept and reused by later starts: checking it costs a stat and a 30 KB
// read, where writing a fresh copy into a new folder and removing it again cost about 3 ms at every
// start on this project's machines (mostly the removal).
import { lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * FNV-1a of the bytes, to name the file after its content (the content itself is compared before use).
 * scripts/build-binary.mjs computes the same for the binary's assets, so starts need not (3 ms for 27 KB).
 */
export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** True when `file` is a regular file of ours that nobody else can write, holding exactly `bytes`. */
function reusable(file: string, bytes: Buffer, uid: number | undefined): boolean {
  let st;
  try {
    st = lstatSync(file);
  } catch {
    // Not there yet (the first start with this binary): it is written.
    return false;
  }
  if (!st.isFile() || st.size !== bytes.length || (st.mode & 0o022) !== 0 || (uid !== undefined && st.uid !== uid))
    return false;
  try {
    return readFileSync(file).equals(bytes);
  } catch {
    // Unreadable: treated as absent.
    return false;
  }
}

/**
 * The path of a file in `dir` holding the addon `bytes`: an earlier start's file when it is ours and
 * unchanged, else a new one written under a temporary name and renamed into place (atomic: a start
 * never sees half a file). Throws when `dir` is not writable or the name is taken by someone else's
 * file; the caller then extracts into a private folder. `id` is fnv1a(bytes) when already known.
 */
export function addonFile(
  bytes: Buffer,
  name: string,
  dir: string,
  uid: number | undefined,
  id: string = fnv1a(bytes),
): string {
  const file = join(
    dir,
    `fwatchdog-${name.replace(/\.node$/, '')}-${id}-${bytes.length}${uid === undefined ? '' : `-u${uid}`}.node`,
  );
  if (reusable(file, bytes, uid)) return file;
  const tmp = `${file}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, bytes, { mode: 0o500, flag: 'wx' });
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (!reusable(file, bytes, uid)) throw new Error(`${file} is not the addon just written`);
  return file;
}
