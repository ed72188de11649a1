import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSocketPair, type SocketPlace } from '../../src/process/socket-pair.js';
import { makeTmpDir, withTimeout } from '../helpers/watchdog.js';

/** Runs a shell that writes to stdout and stderr alternately through one socket pair; resolves with what the parent read. */
async function interleaved(place: SocketPlace): Promise<string> {
  const { parentEnd, childEnd } = await createSocketPair(place);
  onTestFinished(() => {
    parentEnd.destroy();
  });
  const child = spawn('/bin/sh', ['-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2'], {
    stdio: ['ignore', childEnd, childEnd],
  });
  childEnd.destroy();
  const chunks: Buffer[] = [];
  parentEnd.on('data', (c: Buffer) => chunks.push(c));
  await withTimeout(new Promise((r) => parentEnd.once('end', r)), 2000, 'the child to close its output');
  await withTimeout(
    new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r))),
    2000,
    'the child to exit',
  );
  return Buffer.concat(chunks).toString();
}

describe('createSocketPair', () => {
  it('gives a child one channel for stdout and stderr, read in the order written (abstract name)', async () => {
    expect(await interleaved('abstract')).toBe('out1\nerr1\nout2\nerr2\n');
  });

  it('works through a socket file too, and leaves no file behind', async () => {
    const dir = makeTmpDir();
    expect(await interleaved({ dir })).toBe('out1\nerr1\nout2\nerr2\n');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects when the listener cannot be created', async () => {
    await expect(createSocketPair({ dir: '/nonexistent-dir-for-fwatchdog' })).rejects.toThrow(/ENOENT|EACCES/);
  });
});
