// Bundles src/main.ts into dist/fwatchdog.cjs (one file, used by npm start, e2e tests and the binary).
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { bundleOptions } from './bundle-options.mjs';

await build(bundleOptions());
chmodSync('dist/fwatchdog.cjs', 0o755);
