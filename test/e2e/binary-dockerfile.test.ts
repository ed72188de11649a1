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
    const runs = instructions(dockerfile).filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs).toContain('npm run build:binary');
    expect(pkg.scripts.test).toContain('npm run build:binary');
  });

  it('copies only paths that exist in the repository', () => {
    for (const copy of instructions(dockerfile).filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
    }
  });

  it('has glibc and musl targets that are FROM scratch and hold only /fwatchdog', () => {
    const all = instructions(dockerfile);
    for (const target of ['glibc', 'musl']) {
      const from = all.findIndex((i) => i.op === 'FROM' && new RegExp(`^scratch AS ${target}$`, 'i').test(i.args));
      expect(from, `target ${target}`).toBeGreaterThanOrEqual(0);
      const next = all.findIndex((i, n) => n > from && i.op === 'FROM');
      const stage = all.slice(from + 1, next === -1 ? undefined : next);
      expect(stage).toEqual([{ op: 'COPY', args: `--from=build-${target} /src/dist/fwatchdog /fwatchdog` }]);
    }
  });
});

describe('the templates\' Dockerfiles', () => {
  const templates = readdirSync(join(ROOT, 'templates'), { withFileTypes: true }).filter((d) => d.isDirectory());

  it('exist for every template, each with template.yml and a function/ folder', () => {
    expect(templates.map((d) => d.name).sort()).toEqual(['bash-streaming', 'node-http', 'node-http-server', 'python3', 'python3-http', 'static']);
    for (const t of templates) {
      for (const f of ['template.yml', 'Dockerfile', 'function']) expect(existsSync(join(ROOT, 'templates', t.name, f)), `${t.name}/${f}`).toBe(true);
    }
  });

  it('each copy the watchdog from the watchdog image to /usr/bin/fwatchdog and run it', () => {
    for (const t of templates) {
      const all = instructions(join(ROOT, 'templates', t.name, 'Dockerfile'));
      expect(all.some((i) => i.op === 'COPY' && /^--from=watchdog \/fwatchdog \/usr\/bin\/fwatchdog$/.test(i.args)), t.name).toBe(true);
      expect(all.some((i) => i.op === 'CMD' && i.args === '["fwatchdog"]'), t.name).toBe(true);
      for (const copy of all.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
        for (const source of copy.args.replace(/--chown=\S+\s+/, '').split(/\s+/).slice(0, -1)) {
          // A glob (function/package*.json) must match at least one file.
          const found = source.includes('*') ? readdirSync(join(ROOT, 'templates', t.name, dirname(source))).some((f) => globRegExp(basename(source)).test(f)) : existsSync(join(ROOT, 'templates', t.name, source));
          expect(found, `${t.name}: COPY ${source}`).toBe(true);
        }
      }
    }
  });
});

/** A Dockerfile COPY glob with `*` as a RegExp for one file name. */
function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}
