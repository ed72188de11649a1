// Start-up stays lean: the npm packages and the Node built-ins loaded by the time the watchdog is ready
// must stay within the committed list test/startup-modules.json, mode by mode, and a few things must
// never load before ready (prom-client, other modes' code, undici outside http, send outside static).
// Not a timing test: a new dependency evaluated before ready (or a built-in such as node:crypto pulled
// in by an eager import) fails here, whatever the machine's speed. When an addition is meant, regenerate the list with
//   UPDATE_STARTUP_MODULES=1 npx vitest run test/integration/startup-modules.test.ts
// and say in the commit what it costs (npm run bench -- startup).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { freePort, until } from '../helpers/process.js';
import { fixture, makeTmpDir } from '../helpers/watchdog.js';
import { ROOT } from '../helpers/build-once.js';

const LIST = join(ROOT, 'test', 'startup-modules.json');
const UPDATE = process.env.UPDATE_STARTUP_MODULES === '1';

interface Loaded {
  /** npm packages of the bundle evaluated by then (by name). */
  packages: string[];
  /** Public Node built-ins loaded by then, beyond those a bare `node -e` has (internal modules and bindings left out). */
  builtins: string[];
}
type List = Record<string, Loaded>;

/** The npm package a bundled file belongs to, or undefined for the project's own files. */
function packageOf(file: string): string | undefined {
  return /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
}

/** Prepends to every bundled source file a statement recording that it was evaluated. */
const recordEvaluation: Plugin = {
  name: 'record-evaluation',
  setup(b) {
    b.onLoad({ filter: /\.(ts|js|cjs|mjs)$/ }, async (args) => {
      const text = (await readFile(args.path, 'utf8')).replace(/^#!.*\n/, '');
      const rel = relative(ROOT, args.path).split('\\').join('/');
      return { contents: `(globalThis.__fwdEvaluated ??= []).push(${JSON.stringify(rel)});\n${text}`, loader: extname(args.path) === '.ts' ? 'ts' : 'js' };
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
    // Written aside and renamed, so the test never reads half a file.
    write(process.env.STARTUP_MODULES_OUT + '.tmp', JSON.stringify({ bundle: globalThis.__fwdEvaluated ?? [], builtins }));
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
  dir = mkdtempSync(join(tmpdir(), 'fwd-startup-modules-'));
  // In dist/ beside the real bundle, so it finds the spawn addon the same way (../native/spawn/build).
  bundle = join(ROOT, 'dist', `fwatchdog-traced-${process.pid}.cjs`);
  preload = join(dir, 'preload.cjs');
  writeFileSync(preload, PRELOAD);
  const { bundleOptions } = (await import(join(ROOT, 'scripts', 'bundle-options.mjs'))) as { bundleOptions(o: { outfile: string; plugins: Plugin[] }): Parameters<typeof build>[0] };
  await build({ ...bundleOptions({ outfile: bundle, plugins: [recordEvaluation] }), absWorkingDir: ROOT });
  const { execFileSync } = await import('node:child_process');
  const bare = JSON.parse(execFileSync(process.execPath, ['-p', 'JSON.stringify(process.moduleLoadList)'], { encoding: 'utf8' })) as string[];
  nodeOwn = new Set(bare.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)));
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (bundle) rmSync(bundle, { force: true });
});

/** Starts the traced bundle with `env` and resolves what it had loaded when it became ready. */
async function loadedAtReady(env: Record<string, string>): Promise<{ files: string[]; builtins: string[] }> {
  const tmp = makeTmpDir('fwd-startup-modules-run-');
  const out = join(tmp, 'loaded.json');
  const child = spawn(process.execPath, ['-r', preload, bundle], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: tmp, STARTUP_MODULES_OUT: out, port: '0', metrics_port: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  await until(() => existsSync(out) || child.exitCode !== null, 15_000, 'the watchdog to become ready').catch((err: Error) => {
    throw new Error(`${err.message}\n${stderr}`);
  });
  expect(existsSync(out), `the watchdog exited before it was ready:\n${stderr}`).toBe(true);
  const loaded = JSON.parse(readFileSync(out, 'utf8')) as { bundle: string[]; builtins: string[] };
  return { files: [...new Set(loaded.bundle)].sort(), builtins: [...new Set(loaded.builtins)].filter((b) => !nodeOwn.has(b)).sort() };
}

const MODES: Record<string, () => Promise<Record<string, string>>> = {
  streaming: async () => ({ mode: 'streaming', fprocess: 'cat' }),
  serializing: async () => ({ mode: 'serializing', fprocess: 'cat' }),
  classic: async () => ({ mode: 'classic', fprocess: 'cat' }),
  http: async () => {
    const port = String(await freePort());
    return { mode: 'http', fprocess: `node ${fixture('upstreams/upstream')}`, upstream_url: `http://127.0.0.1:${port}`, PORT: port };
  },
  static: async () => ({ mode: 'static', static_path: makeTmpDir('fwd-startup-static-') }),
  inproc: async () => ({ mode: 'inproc', fprocess: fixture('inproc/listener.cjs') }),
};

const committed: List = existsSync(LIST) ? (JSON.parse(readFileSync(LIST, 'utf8')) as List) : {};
const seen: List = {};

describe('modules loaded before ready', { timeout: 30_000 }, () => {
  for (const [mode, envOf] of Object.entries(MODES)) {
    it(`mode=${mode} loads nothing beyond test/startup-modules.json`, async () => {
      const { files, builtins } = await loadedAtReady(await envOf());
      const packages = [...new Set(files.map(packageOf).filter((p) => p !== undefined))].sort();
      seen[mode] = { packages, builtins };
      // What no mode may load before ready, whatever the list says.
      expect(packages.filter((p) => p === 'prom-client'), 'prom-client is loaded after ready').toEqual([]);
      expect(packages.filter((p) => p === 'thread-stream'), 'pino transports are left out of the bundle').toEqual([]);
      expect(files.filter((f) => /^src\/auth\/(create-auth-guard|api-key-check|hmac-check)\.ts$/.test(f)), 'request auth only loads when an auth_* secret is set').toEqual([]);
      if (mode !== 'http') expect(packages.filter((p) => p === 'undici'), 'undici is http mode only').toEqual([]);
      if (mode !== 'static') expect(packages.filter((p) => p === 'send'), 'send is static mode only').toEqual([]);
      const otherModes = Object.keys(MODES).filter((m) => m !== mode);
      expect(files.filter((f) => otherModes.some((m) => f === `src/modes/${m}.ts` || f.startsWith(`src/modes/${m}/`))), 'only the configured mode is loaded').toEqual([]);
      if (UPDATE) return;
      const allowed = committed[mode];
      expect(allowed, `no entry for ${mode} in ${LIST}: regenerate it (see the top of this file)`).toBeDefined();
      const extraPackages = packages.filter((m) => !allowed?.packages.includes(m));
      const extraBuiltins = builtins.filter((m) => !allowed?.builtins.includes(m));
      expect({ extraPackages, extraBuiltins }, `mode=${mode} now loads more before ready; if that is meant, regenerate ${LIST} (see the top of this file)`).toEqual({ extraPackages: [], extraBuiltins: [] });
    });
  }

  it.runIf(UPDATE)('writes test/startup-modules.json', () => {
    expect(Object.keys(seen).sort()).toEqual(Object.keys(MODES).sort());
    writeFileSync(LIST, `${JSON.stringify(seen, null, 2)}\n`);
  });
});
