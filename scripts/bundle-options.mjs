// The esbuild options of dist/fwatchdog.cjs, shared by scripts/build.mjs and the start-up module test
// (test/integration/startup-modules.test.ts builds an instrumented copy with exactly these options).
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Packages kept out of dist/fwatchdog.cjs, each bundled on its own as dist/chunks/<name>.cjs (an asset
 * of the binary, with a V8 code cache) and loaded by src/load-chunk.ts where it is first imported.
 * The main script is compiled and kept in memory at every start, whatever the mode: these 0.7 MB
 * cost every mode start-up time and memory, while only http mode uses undici, only static mode
 * send, and prom-client loads after ready.
 */
export const CHUNKS = [
  { name: 'undici-pool', specifier: 'undici/lib/dispatcher/pool.js' },
  { name: 'send', specifier: 'send' },
  { name: 'prom-client', specifier: 'prom-client' },
  // The OpenTelemetry SDK with the watchdog's tracer over it (src/trace/otel-tracer.ts, about 0.4 MB), loaded only
  // when an OTLP endpoint is set; `source` chunks are one of the project's files, imported as `specifier`.
  { name: 'otel', specifier: './otel-tracer.js', source: 'src/trace/otel-tracer.ts' },
];

/**
 * A chunk is compiled as `HEAD + source + TAIL` (a function of exports, require, module), by
 * src/load-chunk.ts at run time and by build-binary.mjs for its code cache: V8 takes the cache only
 * for the very same text.
 */
export const CHUNK_WRAP = ['(function (exports, require, module) {', '\n})'];

/** Maps each chunk's import to a call of src/load-chunk.ts. */
const chunkImports = {
  name: 'chunk-imports',
  setup(b) {
    const bySpecifier = new Map(CHUNKS.map((c) => [c.specifier, c.name]));
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      bySpecifier.has(args.path) ? { path: args.path, namespace: 'fwatchdog-chunk' } : undefined,
    );
    // A source chunk: the import of that very file (by the path it resolves to), not of any file with its name.
    for (const chunk of CHUNKS.filter((c) => c.source !== undefined)) {
      const file = `${ROOT}${chunk.source}`;
      const base = chunk.specifier.split('/').pop().replace(/\.js$/, '');
      b.onResolve({ filter: new RegExp(`/${base}\\.js$`) }, (args) =>
        `${args.resolveDir}/${args.path.replace(/^\.\//, '')}`.replace(/\.js$/, '.ts') === file
          ? { path: chunk.specifier, namespace: 'fwatchdog-chunk' }
          : undefined,
      );
    }
    b.onLoad({ filter: /.*/, namespace: 'fwatchdog-chunk' }, (args) => ({
      contents: `module.exports = require('./src/load-chunk.ts').loadChunk(${JSON.stringify(bySpecifier.get(args.path))});\n`,
      loader: 'js',
      resolveDir: ROOT,
    }));
  },
};

/**
 * undici without what the watchdog never runs, which its modules load at once: HTTP/2 (node:http2,
 * and node:tls behind it: 10+ ms of the chunk's 15-30) is loaded by the first h2 connection, never
 * made to the http:// upstream; node:assert (which also creates process.stderr) becomes a plain
 * check, as undici only calls assert(value) on its own invariants. Checked against undici 7.x:
 * test/unit/internals.test.ts fails when an undici upgrade changes what these two patches rely on.
 */
const undiciLean = {
  name: 'undici-lean',
  setup(b) {
    b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
      /[\\/]dispatcher[\\/]client\.js$/.test(args.importer)
        ? { path: args.path, namespace: 'lazy-client-h2', pluginData: { dir: args.resolveDir } }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-client-h2' }, (args) => ({
      contents:
        "let real;\nmodule.exports = function connectH2(client, socket) {\n  real ??= require('./client-h2.js');\n  return real(client, socket);\n};\n",
      resolveDir: args.pluginData.dir,
      loader: 'js',
    }));
    b.onResolve({ filter: /^node:assert$/ }, (args) =>
      /[\\/]node_modules[\\/]undici[\\/]/.test(args.importer)
        ? { path: 'assert', namespace: 'plain-assert' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'plain-assert' }, () => ({
      contents:
        "'use strict';\nfunction assert(value, message) {\n  if (value) return;\n  const err = new Error(typeof message === 'string' ? message : 'assertion failed');\n  err.code = 'ERR_ASSERTION';\n  throw err;\n}\nassert.ok = assert;\nmodule.exports = assert;\n",
      loader: 'js',
    }));
  },
};

/** Plugins per chunk. */
const CHUNK_PLUGINS = { 'undici-pool': [undiciLean] };

/** esbuild options for dist/chunks/<name>.cjs: the package alone, exporting what `require(specifier)` gives. */
export function chunkOptions({ name, specifier, source }) {
  return {
    plugins: CHUNK_PLUGINS[name] ?? [],
    stdin: {
      contents: `module.exports = require(${JSON.stringify(source === undefined ? specifier : `./${source}`)});\n`,
      resolveDir: ROOT,
      loader: 'js',
      sourcefile: `chunk-${name}.cjs`,
    },
    outfile: `dist/chunks/${name}.cjs`,
    // A chunk runs as a vm.Script in the binary, which has no dynamic import(): `import('http')` (the OTLP
    // exporter's) becomes a require().
    supported: { 'dynamic-import': false },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
}

/** Options for esbuild's build(), run from the repository root; `plugins` (e.g. the start-up module test's tracer) are added to them. */
export function bundleOptions({ outfile = 'dist/fwatchdog.cjs', plugins = [] } = {}) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  let sha = 'unknown';
  try {
    sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
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
    define: {
      __FWATCHDOG_VERSION__: JSON.stringify(pkg.version),
      __FWATCHDOG_SHA__: JSON.stringify(sha),
      __FWATCHDOG_CHUNK_WRAP__: JSON.stringify(CHUNK_WRAP),
    },
    plugins: [chunkImports, ...plugins],
    logLevel: 'warning',
  };
}
