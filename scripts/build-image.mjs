// Builds the watchdog image (the default target of Dockerfile.watchdog) for each architecture from
// dist/linux-<platform>/image/, with its OCI labels filled in: version (package.json), revision (git HEAD),
// source (the git remote, if a URL). With podman, TAG and REPO:<version> become manifest lists of
// linux/amd64 and linux/arm64, so `COPY --from=fwatchdog ...` (or `podman run fwatchdog`) picks the
// image of the platform being built or run; each one is also tagged TAG-<platform> (e.g. fwatchdog:latest-arm64).
// Usage: npm run build:binary -- --arch all && npm run build:image [-- TAG] [--arch x64|arm64|all]
//   default tag fwatchdog:latest, default --arch all; FWATCHDOG_BUILDER=podman|docker picks the tool, else
//   podman when it is installed. docker (without a registry) gets the TAG-<platform> images only; to publish
//   one name for both with docker, use docker buildx (README: "Publishing the image for both architectures").
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHES, archDist, archesFromArgs } from './arches.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const positional = argv.filter((a, i) => !a.startsWith('--') && !/^--arch$/.test(argv[i - 1] ?? ''));
const tag = positional[0] ?? 'fwatchdog:latest';
const arches = argv.some((a) => a.startsWith('--arch')) ? archesFromArgs(argv) : Object.keys(ARCHES);

function git(args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // Not a git checkout, or no such remote: the label keeps its default.
    return undefined;
  }
}
function installed(tool) {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}
function fail(message) {
  console.error(`fwatchdog image: ${message}`);
  process.exit(2);
}
function run(tool, args) {
  console.log(`fwatchdog image: ${tool} ${args.join(' ')}`);
  const result = spawnSync(tool, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// Every architecture's image root must exist and come from the same bundle (build-binary.mjs writes its build-id).
const ids = new Map();
for (const arch of arches) {
  const dir = archDist(root, arch);
  if (!existsSync(join(dir, 'image', 'fwatchdog')) || !existsSync(join(dir, 'build-id'))) {
    fail(`${dir}/image/ is missing: run npm run build:binary -- --arch ${arches.length > 1 ? 'all' : arch} first`);
  }
  ids.set(arch, readFileSync(join(dir, 'build-id'), 'utf8').trim());
}
if (new Set(ids.values()).size > 1) {
  fail(
    `the architectures' binaries come from different builds (${[...ids].map(([a, id]) => `${a} ${id}`).join(', ')}): run npm run build:binary -- --arch all`,
  );
}

const tool = process.env.FWATCHDOG_BUILDER ?? (installed('podman') ? 'podman' : 'docker');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const revision = git(['rev-parse', 'HEAD']);
// Only a URL says where the source is; a local path (a clone of a clone) does not. Credentials are dropped.
const remote = git(['remote', 'get-url', 'origin']);
const source = remote && /^(https?|ssh|git):\/\//.test(remote) ? remote.replace(/\/\/[^@/]*@/, '//') : undefined;
// The repository part of TAG (a registry host may carry a port: localhost:5000/fwatchdog:latest).
const repo = /^(.*?)(?::[\w][\w.-]*)?$/.exec(tag.replace(/@.*$/, ''))?.[1] ?? tag;
const lists = [...new Set([tag, `${repo}:${version}`])];

const images = [];
for (const arch of arches) {
  const platform = `linux/${ARCHES[arch].platform}`;
  const archTag = `${tag}-${ARCHES[arch].platform}`;
  const args = [
    'build',
    '--platform',
    platform,
    '-f',
    join(root, 'Dockerfile.watchdog'),
    '-t',
    archTag,
    '--build-arg',
    `VERSION=${version}`,
  ];
  // podman: keep the Docker format (HEALTHCHECK, if a derived image sets one) and skip the layer cache, which
  // reuses a LABEL step built with other --build-arg values.
  if (tool === 'podman') args.push('--format', 'docker', '--no-cache');
  if (revision) args.push('--build-arg', `REVISION=${revision}`);
  if (source) args.push('--build-arg', `SOURCE=${source}`);
  args.push(root);
  run(tool, args);
  images.push(archTag);
}

if (tool !== 'podman') {
  console.log(
    `fwatchdog image: built ${images.join(', ')} (a manifest list needs podman, or docker buildx with a registry: see the README)`,
  );
  process.exit(0);
}
// A manifest list per name, replaced if it exists (an image of that name, from an older build, is removed too).
for (const list of lists) {
  spawnSync('podman', ['manifest', 'rm', list], { stdio: 'ignore' });
  spawnSync('podman', ['rmi', '-f', list], { stdio: 'ignore' });
  run('podman', ['manifest', 'create', list]);
  for (const image of images) run('podman', ['manifest', 'add', list, `containers-storage:${image}`]);
}
console.log(
  `fwatchdog image: ${lists.join(' and ')}: manifest lists of ${arches.map((a) => `linux/${ARCHES[a].platform}`).join(' and ')} (${images.join(', ')})`,
);
