// `faas-cli template pull <this repository>`, done by faas-cli's own rules (faas-cli itself is neither on npm
// nor in Debian): a shallow git clone, then every folder in the clone's top-level `template/` is copied to
// ./template/<name>; `faas-cli new --lang <name>` then needs template/<name>/template.yml and its function/.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build-once.js';
import { makeTmpDir } from '../helpers/watchdog.js';

/** What faas-cli's `template pull` does with a repository: the names of the templates it fetched into `project`. */
function templatePull(repository: string, project: string): string[] {
  const clone = join(makeTmpDir('fwd-pull-clone-'), 'repo');
  execFileSync('git', ['clone', '--depth=1', '--config', 'core.autocrlf=false', repository, clone], {
    stdio: 'ignore',
  });
  const templateDir = join(clone, 'template');
  // faas-cli: ReadDir(<clone>/template) fails with "can't find templates in: ..." when it is missing.
  if (!existsSync(templateDir)) throw new Error(`can't find templates in: ${templateDir}`);
  const fetched: string[] = [];
  // ReadDir opens the folder (following a symlink) and Lstat()s its entries: only real folders are templates.
  for (const name of readdirSync(templateDir)) {
    if (!lstatSync(join(templateDir, name)).isDirectory()) continue;
    cpSync(join(templateDir, name), join(project, 'template', name), { recursive: true });
    fetched.push(name);
  }
  return fetched.sort();
}

describe('faas-cli template pull of this repository', () => {
  it('fetches every template from the committed tree through the top-level template -> templates link', () => {
    expect(lstatSync(join(ROOT, 'template')).isSymbolicLink()).toBe(true);
    const project = makeTmpDir('fwd-pull-project-');
    const fetched = templatePull(`file://${ROOT}`, project);
    const expected = readdirSync(join(ROOT, 'templates'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(fetched).toEqual(expected);
    expect(fetched.length).toBeGreaterThanOrEqual(5);
    for (const name of fetched) {
      // What faas-cli new --lang NAME and faas-cli build --shrinkwrap read.
      const dir = join(project, 'template', name);
      expect(readFileSync(join(dir, 'template.yml'), 'utf8'), name).toMatch(new RegExp(`^language: ${name}$`, 'm'));
      expect(existsSync(join(dir, 'Dockerfile')), `${name}/Dockerfile`).toBe(true);
      expect(lstatSync(join(dir, 'function')).isDirectory(), `${name}/function`).toBe(true);
    }
  });
});
