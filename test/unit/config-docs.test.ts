import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configurationMarkdown, helpText, printableConfig } from '../../src/config/help.js';
import { loadConfig } from '../../src/config/load-config.js';
import { MODE_TABLE, VARIABLES, defaultText } from '../../src/config/variables.js';

describe('the variable table', () => {
  it('docs/configuration.md is the one generated from the table (run npm run docs:config after changing a row)', () => {
    const committed = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    expect(committed).toBe(configurationMarkdown());
  });

  it('every row has a default text, a help text, and a unique name and field', () => {
    for (const v of VARIABLES) {
      expect(defaultText(v), v.name).not.toBe('');
      expect(v.help, v.name).not.toBe('');
    }
    const names = VARIABLES.flatMap((v) => [v.name, ...(v.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
    const keys = VARIABLES.flatMap((v) => (v.key === undefined ? [] : [v.key]));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('--help and --print-config show every row, and the defaults the loader applies are the ones --help names', () => {
    const help = helpText();
    const loaded = loadConfig({ fprocess: 'cat' });
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const printed = printableConfig(loaded.config, '/bin/cat');
    const names = new Set(VARIABLES.map((v) => v.name));
    for (const v of VARIABLES) {
      expect(help, v.name).toContain(`  ${v.name}`);
      if (v.key === undefined) continue;
      expect(Object.keys(printed), v.name).toContain(v.name);
      // A plain default is printed exactly as --help says it.
      if (typeof v.default !== 'function' && v.defaultText === undefined)
        expect(String(printed[v.name]), v.name).toBe(defaultText(v));
      // A computed default's text starts with the value the loader applies in the default mode (or names the variable it follows).
      if (typeof v.default === 'function' && !names.has(defaultText(v)))
        expect(defaultText(v).startsWith(String(printed[v.name])), `${v.name}: ${defaultText(v)}`).toBe(true);
    }
  });

  it('docs/configuration-notes.md repeats no default and names only variables of the table', () => {
    const notes = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'configuration-notes.md'), 'utf8');
    const details = notes.slice(notes.indexOf('## Details the table leaves out'), notes.indexOf('## Value syntax'));
    // No table of its own: the defaults live in the generated configuration.md only.
    expect(notes).not.toMatch(/^\|.*default.*\|/im);
    const names = new Set(VARIABLES.flatMap((v) => [v.name, ...(v.aliases ?? [])]));
    const named = [...details.matchAll(/^- (.*?):/gm)].flatMap((m) =>
      [...m[1]!.matchAll(/`([^`]+)`/g)].map((n) => n[1]!),
    );
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((n) => !names.has(n))).toEqual([]);
  });

  it('a fork mode is a property of the mode, read by the compiler-checked mode table', () => {
    expect(
      Object.entries(MODE_TABLE)
        .filter(([, m]) => m.forks)
        .map(([name]) => name),
    ).toEqual(['streaming', 'serializing', 'classic']);
  });
});
