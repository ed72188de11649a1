// The CPU architectures the watchdog is built for, shared by build-binary.mjs, build-portable.mjs and
// build-image.mjs. Each one's artefacts go to dist/linux-<platform>/ (fwatchdog, portable/, image/), named by
// the image platform (linux/amd64, linux/arm64) so that Dockerfile.watchdog can COPY dist/linux-${TARGETARCH}/.
// The host's architecture is also written where it always was: dist/fwatchdog, dist/portable/.
import { join } from 'node:path';

/** Node's name (process.arch) -> what each build step needs to know about the architecture. */
export const ARCHES = {
  x64: {
    node: 'x64',
    /** The image platform's architecture (docker --platform linux/<platform>, TARGETARCH). */
    platform: 'amd64',
    /** Debian's multiarch triplet: /usr/lib/<gnu>/, the cross tools <gnu>-gcc, <gnu>-strip. */
    gnu: 'x86_64-linux-gnu',
    loader: '/lib64/ld-linux-x86-64.so.2',
    /** ELF e_machine. */
    machine: 62,
    label: 'x86-64 (amd64)',
  },
  arm64: {
    node: 'arm64',
    platform: 'arm64',
    gnu: 'aarch64-linux-gnu',
    loader: '/lib/ld-linux-aarch64.so.1',
    machine: 183,
    label: 'arm64 (aarch64)',
  },
};

export const HOST = process.arch;

/** `--arch x64|amd64|arm64|aarch64|all|host` (repeatable, comma-separated) -> arch names; default: the host's. */
export function archesFromArgs(argv) {
  const wanted = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--arch(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    const value = m[1] ?? argv[++i];
    if (value === undefined) throw new Error('--arch needs a value: x64, arm64 or all');
    for (const name of value.split(',')) {
      if (name === 'all') wanted.push(...Object.keys(ARCHES));
      else if (name === 'host') wanted.push(HOST);
      else {
        const arch = Object.values(ARCHES).find(
          (a) => a.node === name || a.platform === name || (name === 'aarch64' && a.node === 'arm64'),
        );
        if (!arch) throw new Error(`--arch ${name}: not one of x64 (amd64), arm64 (aarch64), all, host`);
        wanted.push(arch.node);
      }
    }
  }
  if (wanted.length === 0) wanted.push(HOST);
  return [...new Set(wanted)];
}

/** dist/linux-<platform>/, where an architecture's binary, portable folder and image root go. */
export function archDist(root, arch) {
  return join(root, 'dist', `linux-${ARCHES[arch].platform}`);
}

/** A binutils/gcc tool for `arch`: the plain one on the host's architecture, else Debian's cross tool. */
export function toolFor(arch, name) {
  return arch === HOST ? name : `${ARCHES[arch].gnu}-${name}`;
}
