// The esbuild options of dist/fwatchdog.cjs, shared by scripts/build.mjs and the start-up module test
// (test/integration/startup-modules.test.ts builds an instrumented copy with exactly these options).
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Options for esbuild's build(), run from the repository root; `plugins` (e.g. the start-up module test's tracer) are added to them. */
export function bundleOptions({ outfile = 'dist/fwatchdog.cjs', plugins = [] } = {}) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  let sha = 'unknown';
  try {
    sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    // Not a git checkout (e.g. a source tarball): the SHA stays "unknown".
  }
  return {
    entryPoints: ['src/main.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minifySyntax: true,
    legalComments: 'none',
    banner: { js: '#!/usr/bin/env node' },
    define: { __FWATCHDOG_VERSION__: JSON.stringify(pkg.version), __FWATCHDOG_SHA__: JSON.stringify(sha) },
    plugins,
    logLevel: 'warning',
  };
}
