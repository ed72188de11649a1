// The esbuild options of dist/fwatchdog.cjs, shared by scripts/build.mjs and the start-up module test
// (test/integration/startup-modules.test.ts builds an instrumented copy with exactly these options).
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * pino's transports run in worker threads, which do not work inside the single-file binary, and the
 * watchdog never uses them (it writes through pino.destination). Leaving them out keeps thread-stream,
 * node:module and part of node:assert out of every start.
 */
const noPinoTransports = {
  name: 'no-pino-transports',
  setup(b) {
    b.onLoad({ filter: /[\\/]pino[\\/]lib[\\/]transport\.js$/ }, () => ({
      loader: 'js',
      contents: "module.exports = function transport() { throw new Error('pino transports are not available in fwatchdog'); };\n",
    }));
  },
};

/** Options for esbuild's build(), run from the repository root; `plugins` are added after ours. */
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
    plugins: [noPinoTransports, ...plugins],
    logLevel: 'warning',
  };
}
