// Start-up stays lean: what the watchdog has loaded by the time it is ready must stay within the
// committed test/startup-modules.json, mode by mode: the chunks (the npm packages kept out of the main
// bundle: undici, send, prom-client), the Node built-ins, and the project's own source evaluated (at
// most SOURCE_SLACK more bytes than listed). A few things must never load before ready (prom-client,
// other modes' code, undici outside http, send outside static, the request auth code without a secret).
// Not a timing test: a dependency or built-in pulled in by an eager import, or a subsystem evaluated
// before it is needed, fails here whatever the machine's speed. When an addition is meant, regenerate with
//   UPDATE_STARTUP_MODULES=1 npx vitest run test/integration/startup-modules.test.ts
// and say in the commit what it costs (npm run bench -- startup).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { childrenOf, freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir } from '../helpers/watchdog.js';
import { ROOT, buildOnce } from '../helpers/build-once.js';
import { MODES as MODE_NAMES, type Mode } from '../../src/config/variables.js';

const LIST = join(ROOT, 'test', 'startup-modules.json');
const UPDATE = process.env.UPDATE_STARTUP_MODULES === '1';

interface Loaded {
  /** Chunks (dist/chunks/<name>.cjs: npm packages kept out of the main bundle) loaded by then. */
  chunks: string[];
  /** Public Node built-ins loaded by then, beyond those a bare `node -e` has (internal modules and bindings left out). */
  builtins: string[];
  /** Bytes of the project's own source files evaluated by then (src/, as written). */
  sourceBytes: number;
}
type List = Record<string, Loaded>;

/** The own source may grow this much (a fraction) before the list must be regenerated; a subsystem loaded early is far more. */
const SOURCE_SLACK = 0.2;

/** Prepends to every bundled source file a statement recording that it was evaluated. */
const recordEvaluation: Plugin = {
  name: 'record-evaluation',
  setup(b) {
    b.onLoad({ filter: /\.(ts|js|cjs|mjs)$/ }, async (args) => {
      const text = (await readFile(args.path, 'utf8')).replace(/^#!.*\n/, '');
      const rel = relative(ROOT, args.path).split('\\').join('/');
      return {
        contents: `(globalThis.__fwdEvaluated ??= []).push(${JSON.stringify(rel)});\n${text}`,
        loader: extname(args.path) === '.ts' ? 'ts' : 'js',
      };
    });
  },
};

/**
 * Preloaded with -r: when the lock file is written (the moment the watchdog turns ready), writes what
 * was loaded by then to $STARTUP_MODULES_OUT. Later loads (prom-client after ready) do not count.
 */
const PRELOAD = `
const fs = require('node:fs');
const write = fs.writeFileSync;
let done = false;
fs.writeFileSync = function (path, ...rest) {
  if (!done && typeof path === 'string' && path.endsWith('/.lock')) {
    done = true;
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).filter((m) => !m.startsWith('internal/'));
    const chunks = Object.keys(require.cache).map((f) => /[\\/]chunks[\\/]([^\\/]+)\\.cjs$/.exec(f)?.[1]).filter((c) => c !== undefined);
    // Written aside and renamed, so the test never reads half a file.
    write(process.env.STARTUP_MODULES_OUT + '.tmp', JSON.stringify({ bundle: globalThis.__fwdEvaluated ?? [], builtins, chunks }));
    fs.renameSync(process.env.STARTUP_MODULES_OUT + '.tmp', process.env.STARTUP_MODULES_OUT);
  }
  return write.call(this, path, ...rest);
};
`;

let dir = '';
let bundle = '';
let preload = '';
/** Built-ins Node itself loads before any script: not the watchdog's doing, and they vary with the Node version. */
let nodeOwn = new Set<string>();

beforeAll(async () => {
  // The traced bundle loads the chunks the build put in dist/chunks.
  await buildOnce(join(ROOT, 'dist', 'fwatchdog.cjs'), 'build', 60_000);
  dir = mkdtempSync(join(tmpdir(), 'fwd-startup-modules-'));
  // In dist/ beside the real bundle, so it finds the spawn addon the same way (../native/spawn/build) and dist/chunks.
  bundle = join(ROOT, 'dist', `fwatchdog-traced-${process.pid}.cjs`);
  preload = join(dir, 'preload.cjs');
  writeFileSync(preload, PRELOAD);
  const { bundleOptions } = (await import(join(ROOT, 'scripts', 'bundle-options.mjs'))) as {
    bundleOptions(o: { outfile: string; plugins: Plugin[] }): Parameters<typeof build>[0];
  };
  await build({ ...bundleOptions({ outfile: bundle, plugins: [recordEvaluation] }), absWorkingDir: ROOT });
  const { execFileSync } = await import('node:child_process');
  const bare = JSON.parse(
    execFileSync(process.execPath, ['-p', 'JSON.stringify(process.moduleLoadList)'], { encoding: 'utf8' }),
  ) as string[];
  nodeOwn = new Set(bare.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)));
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (bundle) rmSync(bundle, { force: true });
});

/** Starts the traced bundle with `env` and resolves what it had loaded when it became ready. */
async function loadedAtReady(
  env: Record<string, string>,
): Promise<{ files: string[]; builtins: string[]; chunks: string[] }> {
  const tmp = makeTmpDir('fwd-startup-modules-run-');
  const out = join(tmp, 'loaded.json');
  const child = spawn(process.execPath, ['-r', preload, bundle], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TMPDIR: tmp,
      STARTUP_MODULES_OUT: out,
      port: '0',
      metrics_port: '0',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  onTestFinished(() => {
    // http mode's upstream runs in its own process group: a SIGKILL of the watchdog would leave it behind.
    for (const pid of child.pid === undefined ? [] : childrenOf(child.pid)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    child.kill('SIGKILL');
  });
  await until(() => existsSync(out) || child.exitCode !== null, 15_000, 'the watchdog to become ready').catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${stderr}`);
    },
  );
  expect(existsSync(out), `the watchdog exited before it was ready:\n${stderr}`).toBe(true);
  const loaded = JSON.parse(readFileSync(out, 'utf8')) as { bundle: string[]; builtins: string[]; chunks: string[] };
  return {
    files: [...new Set(loaded.bundle)].sort(),
    builtins: [...new Set(loaded.builtins)].filter((b) => !nodeOwn.has(b)).sort(),
    chunks: [...new Set(loaded.chunks)].sort(),
  };
}

/** How each mode of MODE_TABLE is started here: a mode added to the table without a row here fails the typecheck. */
const MODES: Record<Mode, () => Promise<Record<string, string>>> = {
  streaming: async () => ({ mode: 'streaming', fprocess: 'cat' }),
  serializing: async () => ({ mode: 'serializing', fprocess: 'cat' }),
  classic: async () => ({ mode: 'classic', fprocess: 'cat' }),
  http: async () => {
    const port = String(await freePort());
    return {
      mode: 'http',
      fprocess: `node ${fixture('upstreams/upstream')}`,
      upstream_url: `http://127.0.0.1:${port}`,
      PORT: port,
    };
  },
  static: async () => ({ mode: 'static', static_path: makeTmpDir('fwd-startup-static-') }),
  inproc: async () => ({ mode: 'inproc', fprocess: fixture('inproc/listener.cjs') }),
};

const committed: List = existsSync(LIST) ? (JSON.parse(readFileSync(LIST, 'utf8')) as List) : {};
const seen: List = {};

describe('modules loaded before ready', { timeout: 30_000 }, () => {
  for (const mode of MODE_NAMES) {
    const envOf = MODES[mode];
    it(`mode=${mode} loads nothing beyond test/startup-modules.json`, async () => {
      const { files, builtins, chunks } = await loadedAtReady(await envOf());
      const own = files.filter((f) => f.startsWith('src/'));
      const sourceBytes = own.reduce((sum, f) => sum + statSync(join(ROOT, f)).size, 0);
      seen[mode] = { chunks, builtins, sourceBytes };
      // What no mode may load before ready, whatever the list says.
      expect(
        files.filter((f) => f.startsWith('node_modules/')),
        'npm packages are chunks, not in the main bundle (CHUNKS in scripts/bundle-options.mjs)',
      ).toEqual([]);
      expect(
        chunks.filter((c) => c === 'prom-client'),
        'prom-client is loaded after ready',
      ).toEqual([]);
      expect(
        files.filter((f) => /^src\/auth\/(create-auth-guard|api-key-check|hmac-check)\.ts$/.test(f)),
        'request auth only loads when an auth_* secret is set',
      ).toEqual([]);
      expect(
        chunks.filter((c) => c === 'otel'),
        'OpenTelemetry loads only when an OTLP endpoint is set (src/trace/tracing.ts)',
      ).toEqual([]);
      expect(
        files.filter((f) => f === 'src/trace/otel-tracer.ts'),
        'the tracer is the otel chunk, not in the main bundle',
      ).toEqual([]);
      if (mode !== 'http')
        expect(
          chunks.filter((c) => c.startsWith('undici')),
          'undici is http mode only',
        ).toEqual([]);
      if (mode !== 'static')
        expect(
          chunks.filter((c) => c === 'send'),
          'send is static mode only',
        ).toEqual([]);
      const otherModes = MODE_NAMES.filter((m) => m !== mode);
      expect(
        files.filter((f) => otherModes.some((m) => f === `src/modes/${m}.ts` || f.startsWith(`src/modes/${m}/`))),
        'only the configured mode is loaded',
      ).toEqual([]);
      if (UPDATE) return;
      const allowed = committed[mode];
      expect(allowed, `no entry for ${mode} in ${LIST}: regenerate it (see the top of this file)`).toBeDefined();
      const extraChunks = chunks.filter((m) => !allowed?.chunks.includes(m));
      const extraBuiltins = builtins.filter((m) => !allowed?.builtins.includes(m));
      expect(
        { extraChunks, extraBuiltins },
        `mode=${mode} now loads more before ready; if that is meant, regenerate ${LIST} (see the top of this file)`,
      ).toEqual({ extraChunks: [], extraBuiltins: [] });
      const bound = Math.round((allowed?.sourceBytes ?? 0) * (1 + SOURCE_SLACK));
      expect(
        sourceBytes,
        `mode=${mode} evaluates ${sourceBytes} bytes of its own source before ready, over ${bound} (the list's ${allowed?.sourceBytes} + ${SOURCE_SLACK * 100}%): something is loaded early (${own.join(', ')}); if that is meant, regenerate ${LIST}`,
      ).toBeLessThanOrEqual(bound);
    });
  }

  it.runIf(UPDATE)('writes test/startup-modules.json', () => {
    expect(Object.keys(seen).sort()).toEqual(Object.keys(MODES).sort());
    writeFileSync(LIST, `${JSON.stringify(seen, null, 2)}\n`);
  });
});
