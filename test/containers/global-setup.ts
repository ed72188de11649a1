// Once per run of the container suite: install podman and the tools for the stand-ins when missing (CI runs
// on a fresh machine as root), register qemu's binfmt rule for arm64 when it is missing (arm64 programs and
// containers then run here under emulation), make the base stand-ins the images need for both architectures
// (cached by tag), and build the watchdog image from dist/ for linux/amd64 and linux/arm64, a manifest list
// (npm run test:containers runs npm run build:binary -- --arch all first).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/build-once.js';
import type { TestProject } from 'vitest/node';
import { podman } from './podman.js';
import { arm64Of, ensure, STANDINS, standinFor, type Standin } from './standins.js';

/** command -> Debian package that provides it. */
const TOOLS: [string, string][] = [
  ['podman', 'podman'],
  ['runc', 'runc'],
  ['debootstrap', 'debootstrap'],
  ['/bin/busybox', 'busybox-static'],
  ['/usr/lib/x86_64-linux-musl/libc.so', 'musl'],
  ['git', 'git'],
  ['/usr/libexec/qemu-binfmt/aarch64-binfmt-P', 'qemu-user-static'],
];

const BINFMT = '/proc/sys/fs/binfmt_misc';

/** Registers Debian's qemu-aarch64 binfmt rule (flags F: the emulator is opened now, so it runs in containers too) unless one is there; other rules are left alone. */
function registerBinfmt(): void {
  if (existsSync(`${BINFMT}/qemu-aarch64`)) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      `the container suite runs arm64 containers under emulation: as root, register the rule: cat /usr/lib/binfmt.d/qemu-aarch64.conf > ${BINFMT}/register`,
    );
  if (!existsSync(`${BINFMT}/register`))
    execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (existsSync(`${BINFMT}/qemu-aarch64`)) return;
  console.log('container suite: registering the qemu-aarch64 binfmt rule');
  writeFileSync(`${BINFMT}/register`, readFileSync('/usr/lib/binfmt.d/qemu-aarch64.conf'));
}

/** apt-get download of arm64 packages (the arm64 stand-ins) needs arm64 in dpkg's architectures and its package lists. */
function addArm64Packages(): void {
  const foreign = execFileSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' }).split('\n');
  const listed = spawnSync('apt-cache', ['show', 'busybox-static:arm64'], { stdio: 'ignore' }).status === 0;
  if (foreign.includes('arm64') && listed) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      'the arm64 stand-ins are made from Debian arm64 packages: as root, dpkg --add-architecture arm64 && apt-get update',
    );
  console.log("container suite: adding arm64 to dpkg's architectures (apt-get download of arm64 packages)");
  execFileSync('dpkg', ['--add-architecture', 'arm64']);
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function has(command: string): boolean {
  if (command.startsWith('/')) return existsSync(command);
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function installMissingTools(): void {
  const missing = TOOLS.filter(([command]) => !has(command)).map(([, pkg]) => pkg);
  // Debian's busybox (not -static) is linked against glibc: the musl stand-in needs the static one (ldd fails on it).
  if (has('/bin/busybox') && spawnSync('ldd', ['/bin/busybox'], { stdio: 'ignore' }).status === 0)
    missing.push('busybox-static');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      `the container suite needs ${missing.join(', ')}: run as root, or apt-get install -y ${missing.join(' ')}`,
    );
  console.log(`container suite: installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

/** The FROM build arguments' defaults of every template, mapped to stand-ins, for amd64 and arm64; plus what the suite's own images use. */
function neededStandins(): Standin[] {
  const needed = new Set<Standin>([
    STANDINS.debian,
    STANDINS.busyboxMusl,
    arm64Of(STANDINS.debian),
    arm64Of(STANDINS.busyboxMusl),
  ]);
  for (const name of readdirSync(join(ROOT, 'templates'))) {
    const file = join(ROOT, 'templates', name, 'Dockerfile');
    if (!existsSync(file)) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/^ARG (\w+)=(\S+)$/gm)) {
      if (m[1] === 'WATCHDOG_IMAGE') continue;
      const standin = standinFor(m[2] as string);
      if (standin) needed.add(standin).add(arm64Of(standin));
    }
  }
  return [...needed];
}

/** Removes the images of this run (its namespace); the stand-ins stay, cached for the next run. */
async function removeRunImages(namespace: string, manifestLists: string[]): Promise<void> {
  // podman 4.3's `podman images`, filtered or not, fails while a local manifest list exists
  // (containers/podman#19757): the lists build-image.mjs made go first, by name, then the listing works.
  for (const list of manifestLists) await podman(['manifest', 'rm', list]);
  const list = await podman(['images', '--filter', `reference=${namespace}/*`, '--format', '{{.Repository}}:{{.Tag}}']);
  const tags = list.stdout.split('\n').filter((t) => t.startsWith(`${namespace}/`));
  for (const tag of tags) await podman(['manifest', 'rm', tag]);
  if (tags.length > 0) await podman(['rmi', '-f', '--ignore', ...tags]);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = performance.now();
  const namespace = `localhost/fwatchdog-test-${Date.now().toString(36)}-${process.pid}`;
  project.provide('imageNamespace', namespace);
  const watchdogTag = `${namespace}/watchdog:latest`;
  const lap = (what: string, since: number): void =>
    console.log(`container suite: ${what} in ${((performance.now() - since) / 1000).toFixed(1)} s`);
  installMissingTools();
  registerBinfmt();
  addArm64Packages();
  lap('tools checked', t0);

  // Side by side: the two debootstraps (amd64, arm64: the longest, 7 min on a fresh machine) mostly wait for
  // downloads and the emulator; the others are quick (ensure() makes each once, whoever waits for it).
  const t1 = performance.now();
  await Promise.all(
    neededStandins().map(async (standin) => {
      await ensure(standin);
      lap(`stand-in ${standin.tag} (for ${standin.like}) ready`, t1);
    }),
  );

  for (const platform of ['amd64', 'arm64']) {
    if (!existsSync(join(ROOT, 'dist', `linux-${platform}`, 'image', 'fwatchdog')))
      throw new Error(
        `dist/linux-${platform}/image/ is missing: npm run test:containers runs npm run build:binary -- --arch all first`,
      );
  }
  const t = performance.now();
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-image.mjs'), watchdogTag], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, FWATCHDOG_BUILDER: 'podman' },
  });
  lap(`watchdog image ${watchdogTag} built (a manifest list of linux/amd64 and linux/arm64)`, t);
  // build-image.mjs makes two lists: the tag asked for and <repository>:<package version>.
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return () => removeRunImages(namespace, [watchdogTag, `${namespace}/watchdog:${version}`]);
}
