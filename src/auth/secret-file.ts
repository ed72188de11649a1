// One secret file under secret_mount_path, re-read when it changes (Kubernetes swaps a `..data` symlink).
import { readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';

/** How often, at most, a secret file is stat-ed to notice a rotation. */
export const SECRET_RECHECK_MS = 250;

/** Why a secret has no usable value right now. */
export type SecretProblem =
  | 'not found'
  | 'not readable (permission denied)'
  | 'is a directory'
  | 'is empty'
  | 'cannot be read';

/** A watched secret: its name, its path and the value derived from its current content. */
export interface SecretFile<T> {
  /** The secret's name (its file name); safe to log. */
  readonly name: string;
  /** The secret's path; safe to log. */
  readonly path: string;
  /** The value derived from the current secret, or why there is none. Stats the file at most every `recheckMs`. */
  current(): { ok: true; value: T } | { ok: false; problem: SecretProblem };
}

/** How a secret's bytes become the kept value, where changes are logged, and how often to look. */
export interface SecretFileOptions<T> {
  /** Turns the trimmed secret bytes into what the caller keeps (a digest, a key object); called once per change. */
  derive(secret: Buffer): T;
  logger: Logger;
  recheckMs?: number;
  /** Monotonic clock in ms (tests); defaults to performance.now, so a wall-clock jump never stops rechecks. */
  now?: () => number;
}

/** Reads a secret file once and classifies the failure; the value is trimmed of surrounding whitespace. */
export function readSecret(path: string): { ok: true; secret: Buffer } | { ok: false; problem: SecretProblem } {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    return { ok: false, problem: problemOf(err) };
  }
  const secret = trimBytes(raw);
  raw.fill(0);
  return { ok: true, secret };
}

function problemOf(err: unknown): SecretProblem {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'not found';
    case 'EACCES':
    case 'EPERM':
      return 'not readable (permission denied)';
    case 'EISDIR':
      return 'is a directory';
    default:
      return 'cannot be read';
  }
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c]);

/** Trims ASCII whitespace at both ends without ever turning the secret into a string. */
function trimBytes(b: Buffer): Buffer {
  let start = 0;
  let end = b.length;
  while (start < end && WHITESPACE.has(b[start] as number)) start++;
  while (end > start && WHITESPACE.has(b[end - 1] as number)) end--;
  return Buffer.from(b.subarray(start, end));
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/**
 * Watches `<mountPath>/<name>` by stat-ing it at most every `recheckMs` on use (a symlink swap gives
 * a new inode; an in-place write a new ctime) and re-reading it only when it changed. An empty or
 * missing file gives no value, so callers fail closed. Only the name and path are ever logged.
 */
export function createSecretFile<T>(mountPath: string, name: string, options: SecretFileOptions<T>): SecretFile<T> {
  const path = join(mountPath, name);
  const { derive, logger } = options;
  const recheckMs = options.recheckMs ?? SECRET_RECHECK_MS;
  const now = options.now ?? (() => performance.now());
  let checkedAt = -Infinity;
  let stats: Stats | undefined;
  let state: { ok: true; value: T } | { ok: false; problem: SecretProblem } = { ok: false, problem: 'not found' };
  let loadedOnce = false;

  const load = (): void => {
    let st: Stats | undefined;
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch (err) {
      setState({ ok: false, problem: problemOf(err) }, undefined);
      return;
    }
    if (st === undefined) {
      setState({ ok: false, problem: 'not found' }, undefined);
      return;
    }
    if (stats !== undefined && sameFile(stats, st)) return;
    const read = readSecret(path);
    if (!read.ok) setState(read, undefined);
    else if (read.secret.length === 0) setState({ ok: false, problem: 'is empty' }, st);
    else {
      const value = derive(read.secret);
      read.secret.fill(0);
      setState({ ok: true, value }, st);
    }
  };

  const setState = (next: typeof state, st: Stats | undefined): void => {
    const was = state;
    state = next;
    stats = st;
    const first = !loadedOnce;
    loadedOnce = true;
    if (next.ok) {
      if (!first) logger.info(`secret "${name}" changed: reloaded from ${path}`);
    } else if (was.ok || first || was.problem !== next.problem) {
      logger.error(`secret "${name}" at ${path} ${next.problem}: requests that need it are refused until it is fixed`);
    }
  };

  return {
    name,
    path,
    current() {
      const t = now();
      // Fast path: within the recheck window the cached value stands.
      if (t - checkedAt >= recheckMs) {
        checkedAt = t;
        load();
      }
      return state;
    },
  };
}
