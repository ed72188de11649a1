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
import { ensure, STANDINS } from './standins.js';

const BINARY = join(ROOT, 'dist', 'fwatchdog');
const version = execFileSync(BINARY, ['--version'], { encoding: 'utf8', env: {} }).trim();

describe('the watchdog image', () => {
  it('carries the OCI labels: version from package.json, revision from git', async () => {
    const labels = JSON.parse(await podmanOk(['image', 'inspect', watchdogImage(), '--format', '{{json .Config.Labels}}'])) as Record<string, string>;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(labels['org.opencontainers.image.revision']).toBe(execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim());
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

  it('holds /fwatchdog, /opt/fwatchdog/ and an empty /tmp with mode 1777', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fwatchdog-export-'));
    try {
      const id = (await podmanOk(['create', watchdogImage()])).trim();
      const tar = join(dir, 'fs.tar');
      await podmanOk(['export', '-o', tar, id]);
      await podman(['rm', id]);
      const listing = execFileSync('tar', ['-tvf', tar], { encoding: 'utf8' });
      for (const path of ['fwatchdog', 'opt/fwatchdog/fwatchdog', 'opt/fwatchdog/fwatchdog-bin', 'opt/fwatchdog/lib/ld-linux-x86-64.so.2', 'opt/fwatchdog/lib/libc.so.6', 'opt/fwatchdog/lib/libstdc++.so.6']) {
        expect(listing, path).toMatch(new RegExp(` ${path.replace(/[.+]/g, '\\$&')}( link to .*)?$`, 'm'));
      }
      expect(listing).toMatch(/^drwxrwxrwt .* tmp\/$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

async function buildFork(containerfile: string, base: string, tag: string): Promise<string> {
  const r = await build(forkContext(containerfile), tag, { WATCHDOG_IMAGE: watchdogImage(), BASE: base });
  if (r.code !== 0) throw new Error(`podman build ${containerfile} failed:\n${r.stderr.slice(-4000)}`);
  return tag;
}

const forkSpec = {
  example: { method: 'POST', path: '/', body: 'echoed', status: 200, bodyIncludes: 'echoed' },
  slow: { request: { method: 'POST', path: '/', headers: { 'x-sleep': '1' }, body: 'slept', status: 200, bodyIncludes: 'slept' } },
  orphans: { env: { fprocess: './orphans.sh 5' }, count: 5 },
};

describe('the single file /fwatchdog in a glibc image (Debian), classic mode', () => {
  functionImageChecks({ ...forkSpec, build: async () => buildFork('Containerfile.single-file', await ensure(STANDINS.debian), runImage('fork-glibc')) });
});

describe('the portable folder /opt/fwatchdog in an image without glibc (busybox + musl), classic mode', () => {
  it('really has no glibc', async () => {
    const base = await ensure(STANDINS.busyboxMusl);
    const r = await podman(['run', '--rm', ...ULIMITS, base, 'ls', '/lib64', '/lib/x86_64-linux-gnu']);
    expect(r.code).not.toBe(0);
    const single = await podman(['run', '--rm', ...ULIMITS, '-v', `${BINARY}:/fwatchdog:ro`, base, '/fwatchdog', '--version']);
    expect(single.code, 'the single file cannot run there').not.toBe(0);
  });

  functionImageChecks({ ...forkSpec, build: async () => buildFork('Containerfile.portable', await ensure(STANDINS.busyboxMusl), runImage('fork-musl')) });
});
