// Preload (node --import) for the bench's `--spawn-fallback` target: the spawn addon cannot load, so
// the watchdog starts functions with child_process.spawn, as it does where the addon was not built.
import process from 'node:process';

const dlopen = process.dlopen;
process.dlopen = function dlopenExceptSpawnAddon(module, filename, ...rest) {
  if (String(filename).endsWith('spawn.node')) throw new Error('disabled by the bench (--spawn-fallback)');
  return dlopen.call(this, module, filename, ...rest);
};
