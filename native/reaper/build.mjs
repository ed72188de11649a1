// Builds reaper.node (PID 1 zombie reaping); the watchdog needs it to run as a container's PID 1.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../build-addon.mjs';

const failure = buildAddon(dirname(fileURLToPath(import.meta.url)));
if (failure !== undefined) {
  process.stderr.write(`reaper addon: node-gyp failed (${failure}). It needs python3, make and a C compiler.\n`);
  process.exit(1);
}
