// No Docker engine runs here, so Dockerfile.watchdog and the templates' Dockerfiles are checked against the repo.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/binary.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with `\` continuations joined and comments dropped. */
function instructions(file: string): Instruction[] {
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l);
      return { op: (m?.[1] ?? l).toUpperCase(), args: m?.[2] ?? '' };
    });
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const dockerfile = join(ROOT, 'Dockerfile.watchdog');

describe('Dockerfile.watchdog', () => {
  it('runs only `npm ci` and npm scripts that exist in package.json', () => {
    const runs = instructions(dockerfile).filter((i) => i.op === 'RUN');
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      const script = /^npm run (\S+)$/.exec(run.args)?.[1];
      const isCi = /^npm ci( --[a-z-]+)*$/.test(run.args);
      expect(isCi || script !== undefined, `RUN ${run.args}`).toBe(true);
      if (script !== undefined) expect(pkg.scripts[script], `npm script ${script}`).toBeDefined();
    }
  });

  it('builds the binary with the same npm script that the test script (and so CI) runs', () => {
    const runs = instructions(dockerfile)
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args);
    expect(runs).toContain('npm run build:binary');
    expect(pkg.scripts.test).toContain('npm run build:binary');
  });

  it('copies only paths that exist in the repository, or dist/linux-${TARGETARCH}/image/ that npm run build:binary makes', () => {
    for (const copy of instructions(dockerfile).filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        if (source.startsWith('dist/')) expect(source, `COPY ${source}`).toBe('dist/linux-${TARGETARCH}/image/');
        else expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
      }
    }
    // build-portable.mjs lays out <archDist>/image/, archDist (arches.mjs) is dist/linux-<platform>, the platform
    // TARGETARCH names (amd64, arm64); build-binary.mjs runs build-portable.mjs for each architecture.
    expect(readFileSync(join(ROOT, 'scripts', 'build-portable.mjs'), 'utf8')).toContain(
      `join(archDist(root, arch), 'image')`,
    );
    expect(readFileSync(join(ROOT, 'scripts', 'arches.mjs'), 'utf8')).toContain(
      "join(root, 'dist', `linux-${ARCHES[arch].platform}`)",
    );
    expect(readFileSync(join(ROOT, 'scripts', 'build-binary.mjs'), 'utf8')).toContain(
      `join(root, 'scripts', 'build-portable.mjs'), '--arch', arch]`,
    );
    expect(pkg.scripts['build:binary']).toContain('scripts/build-binary.mjs');
  });

  it('has a default (last) target FROM scratch that holds only dist/linux-${TARGETARCH}/image/, and a from-source target that holds the same', () => {
    const all = instructions(dockerfile);
    const stage = (name: string): Instruction[] => {
      const from = all.findIndex((i) => i.op === 'FROM' && new RegExp(`^scratch AS ${name}$`, 'i').test(i.args));
      expect(from, `target ${name}`).toBeGreaterThanOrEqual(0);
      const next = all.findIndex((i, n) => n > from && i.op === 'FROM');
      return all.slice(from + 1, next === -1 ? undefined : next);
    };
    const lastFrom = all.map((i) => i.op).lastIndexOf('FROM');
    expect(all[lastFrom]?.args).toMatch(/^scratch AS dist$/i);
    expect(stage('dist').filter((i) => i.op === 'COPY')).toEqual([
      { op: 'COPY', args: 'dist/linux-${TARGETARCH}/image/ /' },
    ]);
    expect(stage('from-source').filter((i) => i.op === 'COPY')).toEqual([
      { op: 'COPY', args: '--from=build /src/dist/linux-${TARGETARCH}/image/ /' },
    ]);
    for (const name of ['dist', 'from-source'])
      expect(stage(name), `${name}: ARG TARGETARCH`).toContainEqual({ op: 'ARG', args: 'TARGETARCH' });
    for (const name of ['dist', 'from-source']) {
      const labels = stage(name)
        .filter((i) => i.op === 'LABEL')
        .map((i) => i.args)
        .join(' ');
      for (const key of ['version', 'revision', 'source'])
        expect(labels, `${name}: ${key}`).toContain(`org.opencontainers.image.${key}="\${${key.toUpperCase()}}"`);
    }
  });

  it("defaults the version label to package.json's version", () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(instructions(dockerfile).find((i) => i.op === 'ARG' && i.args.startsWith('VERSION='))?.args).toBe(
      `VERSION=${version}`,
    );
  });
});

describe("the templates' Dockerfiles", () => {
  const templates = readdirSync(join(ROOT, 'templates'), { withFileTypes: true }).filter((d) => d.isDirectory());

  it('exist for every template, each with template.yml and a function/ folder', () => {
    expect(templates.map((d) => d.name).sort()).toEqual([
      'bash-streaming',
      'node-http',
      'node-http-server',
      'python3',
      'python3-http',
      'static',
    ]);
    for (const t of templates) {
      for (const f of ['template.yml', 'Dockerfile', 'function'])
        expect(existsSync(join(ROOT, 'templates', t.name, f)), `${t.name}/${f}`).toBe(true);
    }
  });

  it('each copy the watchdog from the watchdog image, run it as CMD and call the same program in HEALTHCHECK', () => {
    for (const t of templates) {
      const all = instructions(join(ROOT, 'templates', t.name, 'Dockerfile'));
      // The single file (glibc images) or the portable folder (any image).
      const copy = all.find(
        (i) => i.op === 'COPY' && /^--from=watchdog (\/fwatchdog \S+|\/opt\/fwatchdog \/opt\/fwatchdog)$/.test(i.args),
      );
      expect(copy, t.name).toBeDefined();
      const program = copy?.args.includes('/opt/fwatchdog')
        ? '/opt/fwatchdog/fwatchdog'
        : (copy?.args.split(' ')[2] ?? '');
      expect(
        all.some((i) => i.op === 'CMD' && i.args === `["${program}"]`),
        `${t.name}: CMD ["${program}"]`,
      ).toBe(true);
      expect(
        all.some((i) => i.op === 'HEALTHCHECK' && i.args.endsWith(`CMD ["${program}", "--run-healthcheck"]`)),
        `${t.name}: HEALTHCHECK`,
      ).toBe(true);
      for (const copy of all.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
        for (const source of copy.args
          .replace(/--chown=\S+\s+/, '')
          .split(/\s+/)
          .slice(0, -1)) {
          // A glob (function/package*.json) must match at least one file.
          const found = source.includes('*')
            ? readdirSync(join(ROOT, 'templates', t.name, dirname(source))).some((f) =>
                globRegExp(basename(source)).test(f),
              )
            : existsSync(join(ROOT, 'templates', t.name, source));
          expect(found, `${t.name}: COPY ${source}`).toBe(true);
        }
      }
    }
  });

  it('each take the watchdog image and the base image as build arguments, the base defaulting to an official image', () => {
    for (const t of templates) {
      const all = instructions(join(ROOT, 'templates', t.name, 'Dockerfile'));
      const firstFrom = all.findIndex((i) => i.op === 'FROM');
      const globalArgs = all
        .slice(0, firstFrom)
        .filter((i) => i.op === 'ARG')
        .map((i) => i.args);
      expect(
        globalArgs.some((a) => /^WATCHDOG_IMAGE=\S+$/.test(a)),
        `${t.name}: ARG WATCHDOG_IMAGE`,
      ).toBe(true);
      expect(all[firstFrom]?.args, t.name).toBe('${WATCHDOG_IMAGE} AS watchdog');
      const froms = all.filter((i) => i.op === 'FROM').map((i) => i.args);
      // Every other stage starts FROM a build argument whose default names an image of a registry's official namespace.
      for (const from of froms.slice(1)) {
        const arg = /^\$\{(\w+)\}( AS \S+)?$/.exec(from)?.[1];
        expect(arg, `${t.name}: FROM ${from}`).toBeDefined();
        const image = globalArgs.find((a) => a.startsWith(`${arg}=`))?.slice(`${arg}=`.length);
        expect(image, `${t.name}: ARG ${arg}`).toMatch(
          /^([a-z0-9]+(-[a-z0-9]+)*:[\w.-]+|gcr\.io\/distroless\/[\w.-]+:[\w.-]+)$/,
        );
      }
    }
  });

  it('each run the function as a non-root user', () => {
    for (const t of templates) {
      const user = instructions(join(ROOT, 'templates', t.name, 'Dockerfile'))
        .filter((i) => i.op === 'USER')
        .at(-1)?.args;
      expect(user, t.name).toBeDefined();
      expect(user, t.name).not.toMatch(/^(0|root)(:|$)/);
    }
  });
});

/** A Dockerfile COPY glob with `*` as a RegExp for one file name. */
function globRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}
