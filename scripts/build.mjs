// Bundles src/main.ts into dist/fwatchdog.cjs (used by npm start, e2e tests and the binary), and each
// package kept out of it into dist/chunks/<name>.cjs (see CHUNKS in bundle-options.mjs).
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';
import { CHUNKS, bundleOptions, chunkOptions } from './bundle-options.mjs';

rmSync('dist/chunks', { recursive: true, force: true });
await Promise.all([build(bundleOptions()), ...CHUNKS.map((chunk) => build(chunkOptions(chunk)))]);
chmodSync('dist/fwatchdog.cjs', 0o755);
