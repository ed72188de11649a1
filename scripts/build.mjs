// Bundles src/main.ts into dist/fwatchdog.cjs (one file, used by npm start, e2e tests and the binary).
import { build } from 'esbuild';
import { execSync } from 'node:child_process';
import { readFileSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let sha = 'unknown';
try {
  sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  // Not a git checkout (e.g. a source tarball): the SHA stays "unknown".
}

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/fwatchdog.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifySyntax: true,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  define: { __FWATCHDOG_VERSION__: JSON.stringify(pkg.version), __FWATCHDOG_SHA__: JSON.stringify(sha) },
  logLevel: 'warning',
});
chmodSync('dist/fwatchdog.cjs', 0o755);
