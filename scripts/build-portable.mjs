// Turns dist/linux-<platform>/fwatchdog (build-binary.mjs) into dist/linux-<platform>/portable/: the folder that
// Dockerfile.watchdog puts at /opt/fwatchdog and that runs unchanged in any Linux image of that architecture
// (glibc, musl/Alpine, busybox, distroless, scratch). Also lays out dist/linux-<platform>/image/, the watchdog
// image's whole file system (/fwatchdog, /opt/fwatchdog/ and an empty /tmp for scratch images), in hard links,
// so that one COPY stores the binary's bytes once in the image. For the host's architecture, dist/portable/ is
// the same folder (hard links). Usage: node scripts/build-portable.mjs [--arch x64|arm64|all] (default: host).
//
// portable/:
//
//   fwatchdog        a static launcher (scripts/portable/launcher.c, built with musl-gcc, or gcc -static; for
//                    another architecture <triplet>-gcc with musl-dev:<arch>'s specs, or -static with glibc)
//   fwatchdog-bin    the single-file binary itself (a hard link when the file system allows it)
//   lib/             the glibc loader and the shared libraries that the binary and its addons need, copied
//                    from this machine (what `ldd` resolves; for another architecture, what that loader
//                    resolves under emulation from Debian's libc6:<arch> and libstdc++6:<arch>), plus
//                    README.txt saying where from
//
// The launcher execs `lib/<loader> --inhibit-cache --library-path lib --argv0 ARGV0 fwatchdog-bin ARGS`,
// so the libraries apply to the watchdog only, never to the functions it starts.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHES, HOST, archDist, archesFromArgs, toolFor } from './arches.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const launcherSource = join(root, 'scripts', 'portable', 'launcher.c');

function fail(message) {
  console.error(`fwatchdog portable: ${message}`);
  process.exit(1);
}

function run(file, args, env = process.env) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env });
  } catch (err) {
    throw new Error(`${file} ${args.join(' ')} failed: ${err.stderr || err.message}`, { cause: err });
  }
}

function has(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `ldd FILE` as { soname -> path } plus the loader's path (the line without `=>`); for another architecture, `<its loader> --list FILE` (under emulation). */
function sharedLibraries(file, arch) {
  const libs = new Map();
  let loader;
  let listing;
  if (arch === HOST) listing = run('ldd', [file]);
  else {
    const foreign = ARCHES[arch].loader;
    if (!existsSync(foreign))
      fail(
        `${foreign} is missing: the ${arch} portable folder takes its loader and libraries from Debian's ${arch} packages (dpkg --add-architecture ${arch} && apt-get update && apt-get install libc6:${arch} libstdc++6:${arch})`,
      );
    listing = run(foreign, ['--list', file]);
    loader = foreign;
  }
  for (const line of listing.split('\n')) {
    const linked = /^\s*(\S+) => (\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (linked) libs.set(linked[1], linked[2]);
    else if (line.includes('=> not found')) fail(`${file} needs ${line.trim()}`);
    else {
      const interp = /^\s*(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
      if (interp) loader = interp[1];
    }
  }
  return { libs, loader };
}

/** `to` as a hard link of `from`, or a copy where links cannot be made (another file system). */
function linkOrCopy(from, to) {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

if (process.platform !== 'linux') fail('the portable folder is built on Linux only');
if (!existsSync(launcherSource)) fail(`${launcherSource} is missing`);
const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
if (!glibc)
  fail(
    'this machine has no glibc: build the portable folder on a glibc system (e.g. Debian), where dist/fwatchdog was built',
  );

/** The compiler (and its leading arguments) for the static launcher of `arch`. */
function launcherCompiler(arch) {
  if (process.env.FWATCHDOG_LAUNCHER_CC) return [process.env.FWATCHDOG_LAUNCHER_CC];
  if (arch === HOST) return [has('musl-gcc') ? 'musl-gcc' : 'gcc'];
  // Debian's musl-dev:<arch> ships the specs that make the cross gcc link against musl (67 KB for arm64,
  // instead of 600 KB with glibc's libc.a).
  const specs = `/usr/lib/${ARCHES[arch].gnu.replace('-gnu', '-musl')}/musl-gcc.specs`;
  return existsSync(specs) ? [toolFor(arch, 'gcc'), '-specs', specs] : [toolFor(arch, 'gcc')];
}

/** `dir` as a fresh folder of hard links (copies across file systems) of the files under `from`. */
function linkTree(from, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) linkTree(join(from, entry.name), join(dir, entry.name));
    else linkOrCopy(join(from, entry.name), join(dir, entry.name));
  }
}

for (const arch of archesFromArgs(process.argv.slice(2))) buildPortable(arch);

function buildPortable(arch) {
  const binary = join(archDist(root, arch), 'fwatchdog');
  const out = join(archDist(root, arch), 'portable');
  const tmp = join(archDist(root, arch), 'portable.tmp');
  const image = join(archDist(root, arch), 'image');
  if (!existsSync(binary))
    fail(`${binary} is missing: run npm run build:binary${arch === HOST ? '' : ` -- --arch ${arch}`} first`);

  // The libraries of the binary and of every addon it carries (addons are dlopen()ed from its assets).
  const { libs, loader } = sharedLibraries(binary, arch);
  if (!loader) fail(`ldd ${binary} names no loader: is it a dynamically linked glibc binary?`);
  for (const name of existsSync(join(root, 'native')) ? readdirSync(join(root, 'native')) : []) {
    const release = join(root, 'native', name, arch === HOST ? 'build' : `build-${arch}`, 'Release');
    if (!existsSync(release)) continue;
    for (const file of readdirSync(release).filter((f) => f.endsWith('.node'))) {
      for (const [soname, path] of sharedLibraries(join(release, file), arch).libs) libs.set(soname, path);
    }
  }
  libs.delete(basename(loader));

  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'lib'), { recursive: true });

  // The launcher: musl-gcc makes a ~40 KB static file; gcc -static (glibc's libc.a) ~800 KB, also fine.
  const [cc, ...ccArgs] = launcherCompiler(arch);
  const launcher = join(tmp, 'fwatchdog');
  try {
    run(cc, [
      ...ccArgs,
      '-static',
      '-Os',
      '-s',
      '-Wall',
      '-Wextra',
      `-DLOADER="${basename(loader)}"`,
      '-o',
      launcher,
      launcherSource,
    ]);
  } catch (err) {
    fail(
      `cannot build the static launcher with ${cc} (install musl-tools, or libc6-dev for gcc -static; for another architecture gcc-<triplet> and musl-dev:<arch>): ${err.message}`,
    );
  }

  // The loader and libraries, under the names the binary asks for (copies of the files, not of symlinks).
  copyFileSync(loader, join(tmp, 'lib', basename(loader)));
  for (const [soname, path] of libs) copyFileSync(path, join(tmp, 'lib', soname));
  for (const file of readdirSync(join(tmp, 'lib'))) chmodSync(join(tmp, 'lib', file), 0o755);
  const origin = [loader, ...libs.values()].map((p) => {
    let pkg = '';
    for (const candidate of [p, realpathSync(p)]) {
      try {
        pkg = run('dpkg', ['-S', candidate]).split(':')[0];
        pkg = `${pkg} ${run('dpkg-query', ['-W', '-f=${Version}', pkg]).trim()}`;
        break;
      } catch {
        // Not a Debian system, or dpkg knows the file by its other (merged /usr) name: try that, else the path alone.
      }
    }
    return `  ${basename(p).padEnd(24)} ${p}${pkg ? `  (${pkg})` : ''}`;
  });
  writeFileSync(
    join(tmp, 'lib', 'README.txt'),
    [
      'The glibc loader and the libraries that fwatchdog-bin needs, copied from the build machine',
      `(glibc ${glibc}, ${ARCHES[arch].label}) by scripts/build-portable.mjs. The launcher ../fwatchdog runs fwatchdog-bin through`,
      'this loader with --library-path set to this folder; the processes that the watchdog starts do not',
      'see these libraries. glibc is LGPL-2.1+, libstdc++ and libgcc_s are GPL-3.0 with the GCC Runtime',
      'Library Exception; their sources are those of the packages named below.',
      '',
      ...origin,
      '',
    ].join('\n'),
  );

  // fwatchdog-bin: the single-file binary, hard linked when possible (no second 100 MB on disk).
  linkOrCopy(binary, join(tmp, 'fwatchdog-bin'));

  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);

  rmSync(image, { recursive: true, force: true });
  mkdirSync(join(image, 'opt', 'fwatchdog', 'lib'), { recursive: true });
  // An empty /tmp (mode 1777) for FROM scratch images to copy: the lock file lives there.
  mkdirSync(join(image, 'tmp'));
  chmodSync(join(image, 'tmp'), 0o1777);
  linkOrCopy(binary, join(image, 'fwatchdog'));
  for (const file of ['fwatchdog', 'fwatchdog-bin', ...readdirSync(join(out, 'lib')).map((f) => join('lib', f))]) {
    linkOrCopy(join(out, file), join(image, 'opt', 'fwatchdog', file));
  }

  if (arch === HOST) linkTree(out, join(root, 'dist', 'portable'));

  // It must run here as it will run in an image: with an empty environment, through the launcher (another
  // architecture's under emulation).
  const direct = run(binary, ['--version'], {}).trim();
  const viaLauncher = run(join(out, 'fwatchdog'), ['--version'], {}).trim();
  if (viaLauncher !== direct) fail(`${out}/fwatchdog --version says "${viaLauncher}", ${binary} says "${direct}"`);
  const size = (p) => statSync(p).size;
  const libBytes = readdirSync(join(out, 'lib')).reduce((sum, f) => sum + size(join(out, 'lib', f)), 0);
  console.log(
    `fwatchdog portable (${arch}): ${out} (launcher ${(size(join(out, 'fwatchdog')) / 1e3).toFixed(0)} KB built with ${[cc, ...ccArgs].join(' ')}, ` +
      `lib/ ${(libBytes / 1e6).toFixed(1)} MB: ${basename(loader)} ${[...libs.keys()].join(' ')}; glibc ${glibc}): ${viaLauncher}`,
  );
}
