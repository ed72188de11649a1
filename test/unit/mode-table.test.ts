import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODES } from '../../src/config/variables.js';
import { loadMode } from '../../src/modes/load-mode.js';

describe('the mode table', () => {
  it('every mode of MODE_TABLE loads its factory', async () => {
    for (const mode of MODES) expect(typeof (await loadMode(mode)), mode).toBe('function');
  });

  it('the mode interface (src/modes/mode.ts) imports no mode, so the modes and their interface form no circle', () => {
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'src', 'modes', 'mode.ts'), 'utf8');
    const imported = [...text.matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((m) => m[1]);
    expect(imported.filter((p) => MODES.some((mode) => p === `./${mode}.js`))).toEqual([]);
  });
});
