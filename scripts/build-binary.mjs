// Turns dist/fwatchdog.cjs into the single-file binary (a Node single executable application: code cache, stripped)
// for each architecture asked for, then runs build-portable.mjs for it:
//   npm run build:binary                   the host's architecture: dist/fwatchdog, dist/portable/, dist/linux-<platform>/
//   npm run build:binary -- --arch all     x64 and arm64: dist/linux-amd64/ and dist/linux-arm64/ (see arches.mjs)
//   npm run build:binary -- --arch arm64   arm64 only (plus nothing else: the host's files stay as they were)
//
// The embedded Node is, in order: $FWATCHDOG_SEA_NODE (host architecture only); on glibc Linux, the official
// Node 22 of the npm package node-linux-<arch>, pinned by scripts/sea-node/package-lock.json (x64) and
// scripts/sea-node/arm64/package-lock.json (arm64), the same version, installed there on first use (kept out of
// the project's dependencies: its `node` bin would shadow the machine's node in every npm script); else the node
// running this script (e.g. the musl node of an Alpine build stage).
// The blob and the chunks' code caches are always made by that same binary: a blob from another Node version
// segfaults. For another architecture that node runs under user-mode emulation (qemu-user-static and its binfmt
// rule), the addons are cross-compiled (gcc-<triplet>), and the cross strip is used.
// FWATCHDOG_SEA_CODE_CACHE=0 leaves every code cache out (for measuring what the cache buys).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../native/build-addon.mjs';
import { ARCHES, HOST, archDist, archesFromArgs, toolFor } from './arches.mjs';
import { CHUNK_WRAP, CHUNKS } from './bundle-options.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const bundle = join(dist, 'fwatchdog.cjs');
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const require = createRequire(import.meta.url);
const codeCache = process.env.FWATCHDOG_SEA_CODE_CACHE !== '0';

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

/** The folder of the official Node for `arch` (scripts/sea-node[/arm64]/node_modules/node-linux-<arch>), installed from its lock file with `npm ci` when missing. */
function officialNodeDir(arch) {
  const prefix = arch === 'x64' ? join(root, 'scripts', 'sea-node') : join(root, 'scripts', 'sea-node', arch);
  const dir = join(prefix, 'node_modules', `node-linux-${arch}`);
  if (!existsSync(join(dir, 'bin', 'node'))) {
    console.log(`fwatchdog binary: installing the official ${arch} Node into ${prefix} (npm ci)`);
    // The package says cpu: <arch>; npm refuses it on another architecture unless forced (EBADPLATFORM).
    const force = arch === HOST ? [] : ['--force'];
    try {
      execFileSync('npm', ['ci', '--prefix', prefix, '--no-audit', '--no-fund', ...force], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    } catch (err) {
      throw new Error(
        `cannot install node-linux-${arch} into ${prefix}; to embed another node (host architecture), set FWATCHDOG_SEA_NODE=/path/to/node`,
        { cause: err },
      );
    }
  }
  return dir;
}

/** The node binary to embed for `arch`, and why it was picked. */
function pickNode(arch) {
  if (arch === HOST && process.env.FWATCHDOG_SEA_NODE)
    return { path: process.env.FWATCHDOG_SEA_NODE, why: '$FWATCHDOG_SEA_NODE' };
  if (process.platform === 'linux' && isGlibc()) {
    const dir = officialNodeDir(arch);
    return { path: join(dir, 'bin', 'node'), dir, why: `node-linux-${arch} in scripts/sea-node` };
  }
  if (arch === HOST) return { path: process.execPath, why: 'the node running this script' };
  throw new Error(
    `building for ${arch} needs a glibc Linux build machine (it embeds node-linux-${arch}); this one is ${process.platform} ${HOST} without glibc`,
  );
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

/** `node --version` of a node for another architecture: it runs only under emulation (binfmt). */
function foreignNodeVersion(node, arch) {
  try {
    return execFileSync(node, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    throw new Error(
      `cannot run the ${ARCHES[arch].label} node ${node} on this ${ARCHES[HOST].label} machine (${err.code ?? err.message}): the ${arch} build makes its blob with it, ` +
        'under emulation. Install qemu-user-static (apt-get install qemu-user-static) and register its binfmt rule: ' +
        `[ -e /proc/sys/fs/binfmt_misc/qemu-${ARCHES[arch].gnu.split('-')[0]} ] || cat /usr/lib/binfmt.d/qemu-${ARCHES[arch].gnu.split('-')[0]}.conf > /proc/sys/fs/binfmt_misc/register`,
      { cause: err },
    );
  }
}

/** The newest modification time under `dir` (files only). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'build' || e.name.startsWith('build-')) continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The built addons for `arch`: file name -> path. The host's come from native/NAME/build/Release (npm ci builds them), others are cross-compiled into native/NAME/build-<arch>/. */
function addonsFor(arch, node) {
  const found = {};
  for (const entry of existsSync(join(root, 'native'))
    ? readdirSync(join(root, 'native'), { withFileTypes: true })
    : []) {
    if (!entry.isDirectory()) continue;
    const name = entry.name;
    const dir = join(root, 'native', name);
    let release = join(dir, 'build', 'Release');
    if (arch !== HOST) {
      release = join(dir, `build-${arch}`, 'Release');
      const built = existsSync(release)
        ? Math.min(...readdirSync(release).map((f) => statSync(join(release, f)).mtimeMs), Infinity)
        : 0;
      if (built === 0 || built === Infinity || built < newest(dir)) {
        const failure = buildAddon(dir, { arch, gnu: ARCHES[arch].gnu, nodedir: node.dir, out: release });
        if (failure !== undefined)
          throw new Error(
            `native/${name}: cross-compiling for ${arch} failed (${failure}); it needs python3, make and ${ARCHES[arch].gnu}-gcc/g++ (apt-get install gcc-${ARCHES[arch].gnu} g++-${ARCHES[arch].gnu})`,
          );
      }
    }
    if (!existsSync(release)) {
      console.warn(`fwatchdog binary: native/${name} is not built; the ${arch} binary carries no ${name} addon`);
      continue;
    }
    for (const file of readdirSync(release)) if (file.endsWith('.node')) found[file] = join(release, file);
  }
  return found;
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

/** The bundle's and chunks' content hash: build-image.mjs checks that every architecture's binary was made from the same one. */
function buildId() {
  const h = createHash('sha256').update(readFileSync(bundle));
  for (const { name } of CHUNKS) h.update(readFileSync(join(dist, 'chunks', `${name}.cjs`)));
  return h.digest('hex').slice(0, 16);
}

/** `to` replaced by a hard link of `from` (a copy across file systems), never written in place. */
function replaceWithLink(from, to) {
  const tmp = `${to}.link`;
  rmSync(tmp, { force: true });
  try {
    linkSync(from, tmp);
  } catch {
    copyFileSync(from, tmp);
  }
  renameSync(tmp, to);
}

function buildFor(arch) {
  const t0 = performance.now();
  const out = archDist(root, arch);
  mkdirSync(out, { recursive: true });
  const blob = join(out, 'fwatchdog.blob');
  const seaConfigPath = join(out, 'sea-config.json');
  const tmpBinary = join(out, 'fwatchdog.tmp');
  const binary = join(out, 'fwatchdog');

  const node = pickNode(arch);
  const nodeVersion =
    arch === HOST
      ? execFileSync(node.path, ['--version'], { encoding: 'utf8' }).trim()
      : foreignNodeVersion(node.path, arch);
  console.log(`fwatchdog binary (${arch}): embedding node ${nodeVersion} (${node.why}: ${node.path})`);

  // Every built native addon (N-API, so any Node ABI) rides along as an asset named after its file, e.g.
  // reaper.node; the watchdog extracts it when it needs it.
  const assets = addonsFor(arch, node);
  const chunkFiles = CHUNKS.map(({ name }) => [join(dist, 'chunks', `${name}.cjs`), join(out, `chunk-${name}.cache`)]);
  for (const [source] of chunkFiles)
    if (!existsSync(source)) throw new Error(`${source} is missing: run npm run build first`);
  if (codeCache) quiet(node.path, ['-e', cacheMaker, JSON.stringify(chunkFiles)]);
  for (const [{ name }, [source, cache]] of CHUNKS.map((c, i) => [c, chunkFiles[i]])) {
    assets[`chunks/${name}.cjs`] = source;
    if (codeCache) assets[`chunks/${name}.cache`] = cache;
  }

  // Each addon's content id (FNV-1a, as src/process/addon-file.ts computes it), so a start need not hash
  // the bytes to find the file an earlier start extracted (3 ms for spawn.node's 27 KB).
  const addonIds = {};
  for (const [file, path] of Object.entries(assets))
    if (file.endsWith('.node')) addonIds[file] = fnv1a(readFileSync(path));
  const addonIdsPath = join(out, 'addon-ids.json');
  writeFileSync(addonIdsPath, `${JSON.stringify(addonIds)}\n`);
  assets['addon-ids.json'] = addonIdsPath;
  const seaConfig = {
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: codeCache,
    assets,
  };
  writeFileSync(seaConfigPath, `${JSON.stringify(seaConfig, null, 2)}\n`);
  quiet(node.path, ['--experimental-sea-config', seaConfigPath]);

  rmSync(tmpBinary, { force: true });
  copyFileSync(node.path, tmpBinary);
  chmodSync(tmpBinary, 0o755);
  const strip = toolFor(arch, 'strip');
  try {
    execFileSync(strip, [tmpBinary], { stdio: 'ignore' });
  } catch (err) {
    // No binutils in this build environment (e.g. an Alpine stage): the binary still works, it is only bigger.
    console.warn(
      `fwatchdog binary (${arch}): ${strip} failed (${err.code ?? err.status}); keeping the unstripped binary`,
    );
  }

  // postject prints harmless `.note.100` warnings (LIEF): its output is shown only if it fails.
  quiet(process.execPath, [
    require.resolve('postject/dist/cli.js'),
    tmpBinary,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    SENTINEL_FUSE,
  ]);
  // Copied, not renamed: the file postject wrote sits in the page cache in large folios, and every run
  // of it then counts ~13 MB more file-backed RSS than the same bytes read from disk or an image layer.
  // The copy is then renamed into place, so a binary that is running is replaced, not written to.
  const copiedBinary = `${tmpBinary}.copy`;
  copyFileSync(tmpBinary, copiedBinary);
  rmSync(tmpBinary, { force: true });
  renameSync(copiedBinary, binary);
  rmSync(blob, { force: true });
  writeFileSync(join(out, 'build-id'), `${buildId()}\n`);
  if (arch === HOST) replaceWithLink(binary, join(dist, 'fwatchdog'));

  const version = execFileSync(binary, ['--version'], { encoding: 'utf8', env: {} }).trim();
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `fwatchdog binary (${arch}): ${binary} (${(statSync(binary).size / 1e6).toFixed(1)} MB, ${secs} s, code cache ${codeCache ? 'on' : 'off'}, assets: ${Object.keys(assets).join(', ')}): ${version}`,
  );
}

if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
const arches = archesFromArgs(process.argv.slice(2));
const started = performance.now();
for (const arch of arches) {
  buildFor(arch);
  execFileSync(process.execPath, [join(root, 'scripts', 'build-portable.mjs'), '--arch', arch], { stdio: 'inherit' });
}
if (arches.length > 1)
  console.log(
    `fwatchdog binary: ${arches.join(' and ')} built in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
