// Builds spawn.node (the posix_spawn fast path for the fork modes). Optional: without it the watchdog uses child_process.spawn.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../build-addon.mjs';

const failure = buildAddon(dirname(fileURLToPath(import.meta.url)));
if (failure !== undefined) {
  // Not fatal: the fork modes fall back to child_process.spawn (about half the request rate).
  process.stderr.write(
    `spawn addon: node-gyp failed (${failure}); it needs python3, make and a C compiler. The fork modes will use child_process.spawn.\n`,
  );
}
