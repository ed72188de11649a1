// The portable folder's launcher refuses a folder mixed from two architectures' builds (e.g. an x86-64 launcher
// beside an arm64 fwatchdog-bin or loader), naming both, instead of the kernel's bare "exec format error".
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, ROOT } from '../helpers/binary.js';
import { runToExit } from '../helpers/process.js';
import { makeTmpDir } from '../helpers/watchdog.js';

const PORTABLE = join(ROOT, 'dist', 'portable');
const OWN =
  process.arch === 'x64' ? { machine: 62, name: 'x86-64 (amd64)' } : { machine: 183, name: 'arm64 (aarch64)' };
const OTHER =
  process.arch === 'x64' ? { machine: 183, name: 'arm64 (aarch64)' } : { machine: 62, name: 'x86-64 (amd64)' };

beforeAll(() => ensureBinary(), 120_000);

/** An ELF header (the first 64 bytes of the real binary) with e_machine set to `machine`: enough for the launcher to read. */
function foreignElf(path: string, machine: number): void {
  const head = Buffer.from(readFileSync(join(PORTABLE, 'fwatchdog-bin')).subarray(0, 64));
  head.writeUInt16LE(machine, 18);
  rmSync(path, { force: true }); // a hard link of dist/'s file: never written through
  writeFileSync(path, head, { mode: 0o755 });
}

/** A copy of dist/portable/ (hard links) in a temporary folder, with `replace(dir)` applied. */
function folder(replace: (dir: string) => void): string {
  const dir = makeTmpDir('fwd-portable-');
  mkdirSync(join(dir, 'lib'));
  copyFileSync(join(PORTABLE, 'fwatchdog'), join(dir, 'fwatchdog'));
  linkSync(join(PORTABLE, 'fwatchdog-bin'), join(dir, 'fwatchdog-bin'));
  for (const file of readdirSync(join(PORTABLE, 'lib')))
    copyFileSync(join(PORTABLE, 'lib', file), join(dir, 'lib', file));
  replace(dir);
  return dir;
}

describe('the portable launcher checks the architecture of what it starts', () => {
  it('runs a folder of its own architecture (the check passes)', async () => {
    const r = await runToExit(
      join(
        folder(() => undefined),
        'fwatchdog',
      ),
      ['--version'],
      {},
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Version: /);
  });

  it('refuses an fwatchdog-bin of another architecture with exit 126, naming both', async () => {
    const dir = folder((d) => foreignElf(join(d, 'fwatchdog-bin'), OTHER.machine));
    const r = await runToExit(join(dir, 'fwatchdog'), ['--version'], {});
    expect(r.code).toBe(126);
    expect(r.stderr).toContain(
      `${dir}/fwatchdog-bin is built for ${OTHER.name}, but this launcher (and so this image) is ${OWN.name}`,
    );
    expect(r.stderr).toContain('mixes two architectures');
  });

  it('refuses a loader of another architecture in lib/ the same way', async () => {
    const loader = readdirSync(join(PORTABLE, 'lib')).find((f) => f.startsWith('ld-linux')) as string;
    const dir = folder((d) => foreignElf(join(d, 'lib', loader), OTHER.machine));
    const r = await runToExit(join(dir, 'fwatchdog'), ['--version'], {});
    expect(r.code).toBe(126);
    expect(r.stderr).toContain(
      `${dir}/lib/${loader} is built for ${OTHER.name}, but this launcher (and so this image) is ${OWN.name}`,
    );
  });
});
