// The lock file ($TMPDIR/.lock): written once the function is ready, removed at the first signal, checked by health probes.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { WatchdogConfig } from '../config/load-config.js';
import type { Logger } from '../log/logger.js';

export interface LockFile {
  /** True when the lock file is there (or suppress_lock is set): the health probe asks at each call. */
  present(): boolean;
  /** Writes it (the watchdog is ready); throws when it cannot. */
  write(): void;
  /** A lock file left by an earlier run would report "healthy" before this one is ready: removed at start. */
  removeStale(): void;
  /** Removes the lock file this run wrote, once (a second signal or a fatal error must not try again). */
  remove(): void;
}

export function createLockFile(
  config: Pick<WatchdogConfig, 'lockFilePath' | 'suppressLock' | 'tmpDir'>,
  logger: Logger,
): LockFile {
  const path = config.lockFilePath;
  let written = false;
  return {
    present: () => config.suppressLock || existsSync(path),
    write() {
      if (config.suppressLock) {
        logger.warn(
          'Warning: "suppress_lock" is enabled. No automated health-checks will be in place for your function.',
        );
        return;
      }
      mkdirSync(config.tmpDir, { recursive: true });
      writeFileSync(path, '', { mode: 0o660 });
      written = true;
      // Logged once written: whoever waits for this line (tests, scripts) finds the file there.
      logger.info(`Writing lock-file to: ${path}`);
    },
    removeStale() {
      if (config.suppressLock || !existsSync(path)) return;
      try {
        rmSync(path);
        logger.info(`Removing stale lock-file : ${path}`);
      } catch (err) {
        logger.warn(`Unable to remove stale lock-file: ${(err as Error).message}`);
      }
    },
    remove() {
      if (config.suppressLock || !written) return;
      written = false;
      try {
        rmSync(path);
        logger.info(`Removing lock-file : ${path}`);
      } catch (err) {
        logger.warn(`Unable to mark server as unhealthy: ${(err as Error).message}`);
      }
    },
  };
}
