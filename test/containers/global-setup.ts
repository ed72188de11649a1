// Once per run of the container suite: install podman and the tools for the stand-ins when missing (CI runs
// on a fresh machine as root), make the base stand-ins the images need (cached by tag), and build the
// watchdog image from dist/ (npm run test:containers runs npm run build:binary first).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/build-once.js';
import type { TestProject } from 'vitest/node';
import { podman } from './podman.js';
import { ensure, STANDINS, standinFor, type Standin } from './standins.js';

/** command -> Debian package that provides it. */
const TOOLS: [string, string][] = [
  ['podman', 'podman'],
  ['runc', 'runc'],
  ['debootstrap', 'debootstrap'],
  ['/bin/busybox', 'busybox-static'],
  ['/usr/lib/x86_64-linux-musl/libc.so', 'musl'],
  ['git', 'git'],
];

function has(command: string): boolean {
  if (command.startsWith('/')) return existsSync(command);
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function installMissingTools(): void {
  const missing = TOOLS.filter(([command]) => !has(command)).map(([, pkg]) => pkg);
  // Debian's busybox (not -static) is linked against glibc: the musl stand-in needs the static one (ldd fails on it).
  if (has('/bin/busybox') && spawnSync('ldd', ['/bin/busybox'], { stdio: 'ignore' }).status === 0) missing.push('busybox-static');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`the container suite needs ${missing.join(', ')}: run as root, or apt-get install -y ${missing.join(' ')}`);
  console.log(`container suite: installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

/** The FROM build arguments' defaults of every template, mapped to stand-ins; plus what the suite's own images use. */
function neededStandins(): Standin[] {
  const needed = new Set<Standin>([STANDINS.debian, STANDINS.busyboxMusl]);
  for (const name of readdirSync(join(ROOT, 'templates'))) {
    const file = join(ROOT, 'templates', name, 'Dockerfile');
    if (!existsSync(file)) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/^ARG (\w+)=(\S+)$/gm)) {
      if (m[1] === 'WATCHDOG_IMAGE') continue;
      const standin = standinFor(m[2] as string);
      if (standin) needed.add(standin);
    }
  }
  return [...needed];
}

/** Removes the images of this run (its namespace); the stand-ins stay, cached for the next run. */
async function removeRunImages(namespace: string): Promise<void> {
  const list = await podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  const tags = list.stdout.split('\n').filter((t) => t.startsWith(`${namespace}/`));
  if (tags.length > 0) await podman(['rmi', '-f', ...tags]);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = performance.now();
  const namespace = `localhost/fwatchdog-test-${Date.now().toString(36)}-${process.pid}`;
  project.provide('imageNamespace', namespace);
  const watchdogTag = `${namespace}/watchdog:latest`;
  const lap = (what: string, since: number): void => console.log(`container suite: ${what} in ${((performance.now() - since) / 1000).toFixed(1)} s`);
  installMissingTools();
  lap('tools checked', t0);

  for (const standin of neededStandins()) {
    const t = performance.now();
    await ensure(standin);
    lap(`stand-in ${standin.tag} (for ${standin.like}) ready`, t);
  }

  if (!existsSync(join(ROOT, 'dist', 'image', 'fwatchdog'))) throw new Error('dist/image/ is missing: npm run test:containers runs npm run build:binary first');
  const t = performance.now();
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-image.mjs'), watchdogTag], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, FWATCHDOG_BUILDER: 'podman' } });
  lap(`watchdog image ${watchdogTag} built`, t);
  return () => removeRunImages(namespace);
}
