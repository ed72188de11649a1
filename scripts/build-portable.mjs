// Turns dist/fwatchdog into dist/portable/: the folder that Dockerfile.watchdog puts at /opt/fwatchdog and
// that runs unchanged in any Linux image of this architecture (glibc, musl/Alpine, busybox, distroless, scratch).
// Also lays out dist/image/, the watchdog image's whole file system (/fwatchdog, /opt/fwatchdog/ and an empty
// /tmp for scratch images), in hard links, so that one COPY stores the binary's bytes once in the image.
//
// dist/portable/:
//
//   fwatchdog        a static launcher (scripts/portable/launcher.c, built with musl-gcc or gcc -static)
//   fwatchdog-bin    dist/fwatchdog itself (a hard link when the file system allows it)
//   lib/             the glibc loader and the shared libraries that dist/fwatchdog and its addons need,
//                    copied from this machine (what `ldd` resolves), plus README.txt saying where from
//
// The launcher execs `lib/<loader> --inhibit-cache --library-path lib --argv0 ARGV0 fwatchdog-bin ARGS`,
// so the libraries apply to the watchdog only, never to the functions it starts.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const binary = join(root, 'dist', 'fwatchdog');
const out = join(root, 'dist', 'portable');
const tmp = join(root, 'dist', 'portable.tmp');
const image = join(root, 'dist', 'image');
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

/** `ldd FILE` as { soname -> path } plus the loader's path (the line without `=>`). */
function sharedLibraries(file) {
  const libs = new Map();
  let loader;
  for (const line of run('ldd', [file]).split('\n')) {
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
if (!existsSync(binary)) fail(`${binary} is missing: run npm run build:binary first`);
if (!existsSync(launcherSource)) fail(`${launcherSource} is missing`);
const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
if (!glibc) fail('this machine has no glibc: build the portable folder on a glibc system (e.g. Debian), where dist/fwatchdog was built');

// The libraries of the binary and of every addon it carries (addons are dlopen()ed from its assets).
const { libs, loader } = sharedLibraries(binary);
if (!loader) fail(`ldd ${binary} names no loader: is it a dynamically linked glibc binary?`);
for (const name of existsSync(join(root, 'native')) ? readdirSync(join(root, 'native')) : []) {
  const release = join(root, 'native', name, 'build', 'Release');
  if (!existsSync(release)) continue;
  for (const file of readdirSync(release).filter((f) => f.endsWith('.node'))) {
    for (const [soname, path] of sharedLibraries(join(release, file)).libs) libs.set(soname, path);
  }
}
libs.delete(basename(loader));

rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, 'lib'), { recursive: true });

// The launcher: musl-gcc makes a ~20 KB static file; gcc -static (glibc's libc.a) ~800 KB, also fine.
const cc = process.env.FWATCHDOG_LAUNCHER_CC ?? (has('musl-gcc') ? 'musl-gcc' : 'gcc');
const launcher = join(tmp, 'fwatchdog');
try {
  run(cc, ['-static', '-Os', '-s', '-Wall', '-Wextra', `-DLOADER="${basename(loader)}"`, '-o', launcher, launcherSource]);
} catch (err) {
  fail(`cannot build the static launcher with ${cc} (install musl-tools, or libc6-dev for gcc -static): ${err.message}`);
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
    `(glibc ${glibc}) by scripts/build-portable.mjs. The launcher ../fwatchdog runs fwatchdog-bin through`,
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

// It must run here as it will run in an image: with an empty environment, through the launcher.
const direct = run(binary, ['--version'], {}).trim();
const viaLauncher = run(join(out, 'fwatchdog'), ['--version'], {}).trim();
if (viaLauncher !== direct) fail(`dist/portable/fwatchdog --version says "${viaLauncher}", dist/fwatchdog says "${direct}"`);
const size = (p) => statSync(p).size;
const libBytes = readdirSync(join(out, 'lib')).reduce((sum, f) => sum + size(join(out, 'lib', f)), 0);
console.log(
  `fwatchdog portable: ${out} (launcher ${(size(join(out, 'fwatchdog')) / 1e3).toFixed(0)} KB built with ${cc}, ` +
    `lib/ ${(libBytes / 1e6).toFixed(1)} MB: ${basename(loader)} ${[...libs.keys()].join(' ')}; glibc ${glibc}): ${viaLauncher}`,
);
