// The watchdog image (Dockerfile.watchdog's default target, built by global-setup.ts from dist/image/), and the
// two ways into a function image: the single file in a glibc image, the portable folder in one without glibc.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build-once.js';
import { FIXTURES } from '../helpers/watchdog.js';
import { functionImageChecks } from './function-image.js';
import { build, podman, podmanOk, ULIMITS } from './podman.js';
import { runImage, watchdogImage } from './run-images.js';
import { ensure, STANDINS, STANDINS_ARM64 } from './standins.js';

const BINARY = join(ROOT, 'dist', 'fwatchdog');
const version = execFileSync(BINARY, ['--version'], { encoding: 'utf8', env: {} }).trim();
const BINARY_ARM64 = join(ROOT, 'dist', 'linux-arm64', 'fwatchdog');

/** The watchdog image of one platform (build-image.mjs tags each TAG-<platform>; podman 4.3's `create --arch` of a list takes the host's). */
function watchdogImageFor(arch: string): string {
  return `${watchdogImage()}-${arch}`;
}

/** `tar -tv` of the file system of the watchdog image's instance for `arch`. */
async function listing(arch: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fwatchdog-export-'));
  try {
    const id = (await podmanOk(['create', watchdogImageFor(arch)])).trim();
    const tar = join(dir, 'fs.tar');
    await podmanOk(['export', '-o', tar, id]);
    await podman(['rm', id]);
    return execFileSync('tar', ['-tvf', tar], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The ELF e_machine of `file` inside the watchdog image's instance for `arch`. */
async function machineIn(arch: string, file: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fwatchdog-elf-'));
  try {
    const id = (await podmanOk(['create', watchdogImageFor(arch)])).trim();
    await podmanOk(['cp', `${id}:${file}`, join(dir, 'file')]);
    await podman(['rm', id]);
    return readFileSync(join(dir, 'file')).readUInt16LE(18);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the watchdog image', () => {
  it('carries the OCI labels: version from package.json, revision from git', async () => {
    const labels = JSON.parse(
      await podmanOk(['image', 'inspect', watchdogImage(), '--format', '{{json .Config.Labels}}']),
    ) as Record<string, string>;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(labels['org.opencontainers.image.revision']).toBe(
      execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim(),
    );
    expect(labels).toHaveProperty(['org.opencontainers.image.source']);
  });

  it('stores the binary once for /fwatchdog and /opt/fwatchdog (hard links)', async () => {
    const size = Number((await podmanOk(['image', 'inspect', watchdogImage(), '--format', '{{.Size}}'])).trim());
    expect(size).toBeGreaterThan(statSync(BINARY).size);
    expect(size).toBeLessThan(statSync(BINARY).size * 1.1);
  });

  it('prints the version when run as is (FROM scratch: the portable launcher needs no libc)', async () => {
    const r = await podman(['run', '--rm', ...ULIMITS, watchdogImage()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it.each([
    ['amd64', 'ld-linux-x86-64.so.2'],
    ['arm64', 'ld-linux-aarch64.so.1'],
  ])(
    'holds /fwatchdog, /opt/fwatchdog/ (with the %s loader %s) and an empty /tmp with mode 1777',
    async (arch, loader) => {
      const files = await listing(arch);
      for (const path of [
        'fwatchdog',
        'opt/fwatchdog/fwatchdog',
        'opt/fwatchdog/fwatchdog-bin',
        `opt/fwatchdog/lib/${loader}`,
        'opt/fwatchdog/lib/libc.so.6',
        'opt/fwatchdog/lib/libstdc++.so.6',
      ]) {
        expect(files, path).toMatch(new RegExp(` ${path.replace(/[.+]/g, '\\$&')}( link to .*)?$`, 'm'));
      }
      expect(files).toMatch(/^drwxrwxrwt .* tmp\/$/m);
    },
  );

  it('is a manifest list of linux/amd64 and linux/arm64, under its tag and its version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const name of [watchdogImage(), watchdogImage().replace(/:latest$/, `:${pkg.version}`)]) {
      const list = JSON.parse(await podmanOk(['manifest', 'inspect', name])) as {
        manifests: { digest: string; platform: { os: string; architecture: string } }[];
      };
      expect(list.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort(), name).toEqual([
        'linux/amd64',
        'linux/arm64',
      ]);
      // Each entry is the image of its platform.
      for (const m of list.manifests) {
        const image = JSON.parse(await podmanOk(['image', 'inspect', watchdogImageFor(m.platform.architecture)])) as {
          Digest: string;
          Architecture: string;
        }[];
        expect(image[0]?.Architecture).toBe(m.platform.architecture);
        expect(image[0]?.Digest).toBe(m.digest);
      }
    }
  });

  it('holds arm64 programs in its linux/arm64 image and x86-64 ones in its linux/amd64 image (ELF e_machine)', async () => {
    for (const file of ['/fwatchdog', '/opt/fwatchdog/fwatchdog', '/opt/fwatchdog/lib/libc.so.6']) {
      expect(await machineIn('arm64', file), `arm64 ${file}`).toBe(183);
      expect(await machineIn('amd64', file), `amd64 ${file}`).toBe(62);
    }
  });

  it('prints the arm64 version line when its linux/arm64 image runs as is (under emulation)', async () => {
    const r = await podman(['run', '--rm', '--arch', 'arm64', ...ULIMITS, watchdogImage()], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version.replace('Arch: linux/amd64', 'Arch: linux/arm64'));
    expect(execFileSync(BINARY_ARM64, ['--version'], { encoding: 'utf8', env: {} }).trim()).toBe(r.stdout.trim());
  });
});

/** A build context with the fork fixtures and a Containerfile of test/containers/fixtures. */
function forkContext(containerfile: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fwatchdog-fork-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(import.meta.dirname, 'fixtures', containerfile), join(dir, 'Containerfile'));
  copyFileSync(join(import.meta.dirname, 'fixtures', 'orphans.sh'), join(dir, 'orphans.sh'));
  copyFileSync(join(FIXTURES, 'maybe-sleep'), join(dir, 'maybe-sleep'));
  return dir;
}

async function buildFork(containerfile: string, base: string, tag: string, platform?: string): Promise<string> {
  const r = await build(forkContext(containerfile), tag, { WATCHDOG_IMAGE: watchdogImage(), BASE: base }, { platform });
  if (r.code !== 0) throw new Error(`podman build ${containerfile} failed:\n${r.stderr.slice(-4000)}`);
  return tag;
}

const forkSpec = {
  example: { method: 'POST', path: '/', body: 'echoed', status: 200, bodyIncludes: 'echoed' },
  slow: {
    request: {
      method: 'POST',
      path: '/',
      headers: { 'x-sleep': '1' },
      body: 'slept',
      status: 200,
      bodyIncludes: 'slept',
    },
  },
  orphans: { env: { fprocess: './orphans.sh 5' }, count: 5 },
};

/** Under emulation three requests take longer than the orphans' 0.5 s: they live 4 s there. */
const forkSpecArm64 = { ...forkSpec, orphans: { env: { fprocess: './orphans.sh 5 4' }, count: 5 }, emulated: true };

describe('the single file /fwatchdog in a glibc image (Debian), classic mode', () => {
  functionImageChecks({
    ...forkSpec,
    build: async () => buildFork('Containerfile.single-file', await ensure(STANDINS.debian), runImage('fork-glibc')),
  });
});

describe('the portable folder /opt/fwatchdog in an image without glibc (busybox + musl), classic mode', () => {
  it('really has no glibc', async () => {
    const base = await ensure(STANDINS.busyboxMusl);
    const r = await podman(['run', '--rm', ...ULIMITS, base, 'ls', '/lib64', '/lib/x86_64-linux-gnu']);
    expect(r.code).not.toBe(0);
    const single = await podman([
      'run',
      '--rm',
      ...ULIMITS,
      '-v',
      `${BINARY}:/fwatchdog:ro`,
      base,
      '/fwatchdog',
      '--version',
    ]);
    expect(single.code, 'the single file cannot run there').not.toBe(0);
  });

  functionImageChecks({
    ...forkSpec,
    build: async () => buildFork('Containerfile.portable', await ensure(STANDINS.busyboxMusl), runImage('fork-musl')),
  });
});

// The same two ways into a function image on linux/arm64: arm64 stand-ins, the arm64 image of the watchdog's
// manifest list (picked by --platform), run here under emulation.
describe('linux/arm64: the single file /fwatchdog in an arm64 glibc image (Debian arm64, under emulation), classic mode', () => {
  functionImageChecks({
    ...forkSpecArm64,
    build: async () =>
      buildFork(
        'Containerfile.single-file',
        await ensure(STANDINS_ARM64.debian),
        runImage('fork-glibc-arm64'),
        'linux/arm64',
      ),
  });
});

describe('linux/arm64: the portable folder /opt/fwatchdog in an arm64 image without glibc (busybox + musl, under emulation), classic mode', () => {
  it('really is arm64 without glibc', async () => {
    const base = await ensure(STANDINS_ARM64.busyboxMusl);
    expect((await podmanOk(['image', 'inspect', base, '--format', '{{.Architecture}}'])).trim()).toBe('arm64');
    const uname = await podman(['run', '--rm', ...ULIMITS, base, 'uname', '-m'], { timeoutMs: 60_000 });
    expect(uname.stdout.trim(), uname.stderr).toBe('aarch64');
    const r = await podman(
      ['run', '--rm', ...ULIMITS, base, 'ls', '/lib64', '/lib/aarch64-linux-gnu', '/lib/ld-linux-aarch64.so.1'],
      { timeoutMs: 60_000 },
    );
    expect(r.code).not.toBe(0);
    const single = await podman(
      ['run', '--rm', ...ULIMITS, '-v', `${BINARY_ARM64}:/fwatchdog:ro`, base, '/fwatchdog', '--version'],
      { timeoutMs: 60_000 },
    );
    expect(single.code, 'the single file cannot run there').not.toBe(0);
  }, 120_000);

  functionImageChecks({
    ...forkSpecArm64,
    build: async () =>
      buildFork(
        'Containerfile.portable',
        await ensure(STANDINS_ARM64.busyboxMusl),
        runImage('fork-musl-arm64'),
        'linux/arm64',
      ),
  });
});
