import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addonFile, fnv1a } from '../../src/process/addon-file.js';
import { makeTmpDir } from '../helpers/watchdog.js';

const uid = process.getuid?.();

describe('addon file kept across starts', () => {
  it('writes the addon once and hands the same file to later starts without rewriting it', () => {
    const dir = makeTmpDir('fwd-addon-');
    const bytes = Buffer.from('not really an ELF file, but bytes all the same');
    const first = addonFile(bytes, 'spawn.node', dir, uid);
    expect(readFileSync(first).equals(bytes)).toBe(true);
    expect(statSync(first).mode & 0o777).toBe(0o500);
    const inode = statSync(first).ino;
    const second = addonFile(bytes, 'spawn.node', dir, uid);
    expect(second).toBe(first);
    expect(statSync(second).ino).toBe(inode);
    expect(readdirSync(dir)).toEqual([first.slice(dir.length + 1)]);
  });

  it("finds the same file when the content id comes from the build (the binary's addon-ids.json)", () => {
    const dir = makeTmpDir('fwd-addon-');
    const bytes = Buffer.from('some addon');
    const first = addonFile(bytes, 'spawn.node', dir, uid);
    expect(addonFile(bytes, 'spawn.node', dir, uid, fnv1a(bytes))).toBe(first);
    expect(first).toContain(`-${fnv1a(bytes)}-`);
  });

  it('gives other bytes (another build) another file', () => {
    const dir = makeTmpDir('fwd-addon-');
    const a = addonFile(Buffer.from('build one'), 'spawn.node', dir, uid);
    const b = addonFile(Buffer.from('build two'), 'spawn.node', dir, uid);
    expect(b).not.toBe(a);
    expect(readFileSync(b, 'utf8')).toBe('build two');
  });

  it('replaces a kept file whose content changed or that others could write, instead of loading it', () => {
    const dir = makeTmpDir('fwd-addon-');
    const bytes = Buffer.from('the real addon bytes');
    const file = addonFile(bytes, 'reaper.node', dir, uid);
    chmodSync(file, 0o600);
    writeFileSync(file, 'the real addon byteZ');
    expect(addonFile(bytes, 'reaper.node', dir, uid)).toBe(file);
    expect(readFileSync(file).equals(bytes)).toBe(true);
    chmodSync(file, 0o666);
    const inode = statSync(file).ino;
    expect(addonFile(bytes, 'reaper.node', dir, uid)).toBe(file);
    expect(statSync(file).ino).not.toBe(inode);
    expect(statSync(file).mode & 0o777).toBe(0o500);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it('throws when the folder cannot be written, so the caller falls back', () => {
    expect(() => addonFile(Buffer.from('x'), 'spawn.node', '/nonexistent/fwd-addon-dir', uid)).toThrow();
  });
});
