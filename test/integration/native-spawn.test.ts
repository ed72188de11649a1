import { existsSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { addonCandidates, loadAddon } from '../../src/process/load-addon.js';
import {
  createNativeSpawner,
  SPAWN_ADDON,
  type NativeSpawner,
  type SpawnAddon,
} from '../../src/process/native-spawn.js';
import { createSpawner } from '../../src/process/spawner.js';
import { spawnFunction } from '../../src/process/function-process.js';
import { send } from '../helpers/http.js';
import { procStat, until } from '../helpers/process.js';
import { fixture, makeTmpDir, startWatchdog, withTimeout } from '../helpers/watchdog.js';

const ADDON = join(import.meta.dirname, '..', '..', 'native', 'spawn', 'build', 'Release', 'spawn.node');

function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve, reject) => {
    if (stream === null) return resolve('');
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    stream.on('error', reject);
    stream.on('close', () => resolve(text));
  });
}

function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; events: string[] }> {
  const events: string[] = [];
  return new Promise((resolve) => {
    child.once('exit', () => events.push('exit'));
    child.stdout?.once('close', () => events.push('stdout closed'));
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      events.push('close');
      resolve({ code, signal, events });
    });
  });
}

describe('the posix_spawn addon (native/spawn)', () => {
  let spawner: NativeSpawner;
  const onSigchld = (): void => spawner.onSigchld();

  beforeAll(() => {
    if (!existsSync(ADDON))
      throw new Error(`${ADDON} is missing: run npm run build:spawn (needs python3, make and a C compiler)`);
    spawner = createNativeSpawner(createRequire(import.meta.url)(ADDON) as SpawnAddon);
    process.on('SIGCHLD', onSigchld);
  });
  afterAll(() => {
    process.off('SIGCHLD', onSigchld);
  });

  /** Starts `program` through the addon and resolves once its pid is known (it starts on a pool thread). */
  async function start(
    program: string,
    args: string[],
    env: Record<string, string> = { PATH: '/usr/bin:/bin' },
  ): Promise<ChildProcess> {
    const child = spawner.spawn(program, args, env, ['pipe', 'pipe', 'pipe']);
    if (child === undefined) throw new Error(`the addon did not start ${program}`);
    onTestFinished(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group has already exited.
      }
    });
    if (child.pid === undefined) await withTimeout(once(child, 'spawn'), 2000, `${program} to start`);
    return child;
  }

  it('is found next to the bundle through the dev build folder', () => {
    const load = loadAddon(SPAWN_ADDON, {
      dlopen: (m, f) => process.dlopen(m, f),
      execPath: '/nonexistent/node',
      scriptPath: join(import.meta.dirname, '..', '..', 'dist', 'fwatchdog.cjs'),
      tmpDir: undefined,
    });
    expect(load.ok).toBe(true);
    expect(addonCandidates(SPAWN_ADDON, { execPath: '/x/node', scriptPath: undefined })[0]).toBe('/x/spawn.node');
  });

  it('runs the program with the given environment, its stdin and stdout as pipes', async () => {
    const child = await start(fixture('env-dump'), [], { PATH: '/usr/bin:/bin', Http_Method: 'POST' });
    const out = collect(child.stdout);
    child.stdin?.end();
    const end = await withTimeout(exited(child), 2000, 'env-dump to end');
    expect(end.code).toBe(0);
    expect((await out).split('\n')).toContain('Http_Method=POST');
    const echo = await start('/bin/cat', []);
    const echoed = collect(echo.stdout);
    echo.stdin?.end('hello');
    await withTimeout(exited(echo), 2000, 'cat to end');
    expect(await echoed).toBe('hello');
  });

  it('starts the program as the leader of its own session and process group', async () => {
    const child = await start('/bin/sleep', ['5']);
    expect(procStat(child.pid as number)).toMatchObject({ ppid: process.pid, pgrp: child.pid, session: child.pid });
  });

  it('gives the program default signal handling, an empty signal mask and blocking stdio', async () => {
    // Node ignores SIGPIPE; a function that inherited that would never die on a closed pipe.
    const child = await start('/bin/sh', [
      '-c',
      'grep -E "^Sig(Ign|Blk)" /proc/self/status; cat /proc/self/fdinfo/0 | grep flags',
    ]);
    const out = collect(child.stdout);
    child.stdin?.end();
    await withTimeout(exited(child), 2000, 'sh to end');
    const text = await out;
    // Signals 1-31 (SIGPIPE among them) are not ignored. glibc's posix_spawn leaves its two
    // internal real-time signals (32, 33) ignored, which programs never see: their libc resets them.
    const ignored = BigInt(`0x${/SigIgn:\s+([0-9a-f]+)/.exec(text)?.[1] ?? 'ffff'}`);
    expect(ignored & 0x7fffffffn).toBe(0n);
    expect(text).toMatch(/SigBlk:\s+0+\n/);
    const flags = Number.parseInt(/flags:\s+(\d+)/.exec(text)?.[1] ?? 'x', 8);
    expect(flags & 0o4000).toBe(0); // O_NONBLOCK
  });

  it('reports exit codes and signals like child_process, with close after exit and the output closed', async () => {
    const failing = await start(fixture('exit-code'), ['3']);
    collect(failing.stderr);
    collect(failing.stdout);
    failing.stdin?.end();
    const a = await withTimeout(exited(failing), 2000, 'exit-code to end');
    expect([a.code, a.signal]).toEqual([3, null]);
    // As with child_process, 'exit' and the end of the output come in either order; 'close' is last.
    expect(a.events.slice().sort()).toEqual(['close', 'exit', 'stdout closed']);
    expect(a.events.at(-1)).toBe('close');

    const sleeper = await start('/bin/sleep', ['5']);
    const ended = exited(sleeper);
    process.kill(-(sleeper.pid as number), 'SIGTERM');
    const b = await withTimeout(ended, 2000, 'sleep to end');
    expect([b.code, b.signal]).toEqual([null, 'SIGTERM']);
  });

  it('reaps every process it started: nothing is left as a zombie', async () => {
    const pids: number[] = [];
    const ends: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const child = await start('/bin/cat', []);
      pids.push(child.pid as number);
      ends.push(exited(child));
      child.stdout?.resume();
      child.stdin?.end('x');
    }
    await withTimeout(Promise.all(ends), 5000, '20 cats to end');
    expect(spawner.running).toBe(0);
    expect(pids.filter((pid) => procStat(pid) !== undefined)).toEqual([]);
  });

  it('leaves programs it cannot start to child_process, so start errors read the same', () => {
    expect(spawner.spawn('/nonexistent/program', [], {}, ['pipe', 'pipe', 'pipe'])).toBeUndefined();
    expect(spawner.spawn('/bin/cat', [], {}, ['pipe', 'pipe', 'pipe', 'ipc'])).toBeUndefined();
  });

  it('gives the program the shared base environment with the per-call variables laid over it', async () => {
    const base = { PATH: '/usr/bin:/bin', Shared: 'base' };
    const runs: string[] = [];
    const extras: Array<Record<string, string>> = [{ Http_Method: 'PUT' }, { Http_Method: 'GET', Shared: 'call' }];
    for (const extra of extras) {
      const child = spawner.spawn(fixture('env-dump'), [], base, ['pipe', 'pipe', 'pipe'], extra);
      if (child === undefined) throw new Error('the addon did not start env-dump');
      const out = collect(child.stdout);
      child.stdin?.end();
      await withTimeout(exited(child), 2000, 'env-dump to end');
      runs.push(await out);
    }
    const [first = [], second = []] = runs.map((text) => text.split('\n'));
    expect(first).toEqual(expect.arrayContaining(['Shared=base', 'Http_Method=PUT']));
    // A per-call variable with a base variable's name replaces it: it is not there twice.
    expect(second).toEqual(expect.arrayContaining(['Shared=call', 'Http_Method=GET']));
    expect(second.filter((line) => line.startsWith('Shared='))).toHaveLength(1);
  });

  it('combines stderr into the stdout channel in write order when asked, with no stderr stream', async () => {
    const child = spawner.spawn(
      '/bin/sh',
      ['-c', 'echo one; echo two >&2; echo three'],
      { PATH: '/usr/bin:/bin' },
      ['pipe', 'pipe', 'pipe'],
      undefined,
      true,
    );
    if (child === undefined) throw new Error('the addon did not start sh');
    expect(child.stderr).toBeNull();
    const out = collect(child.stdout);
    child.stdin?.end();
    await withTimeout(exited(child), 2000, 'sh to end');
    expect(await out).toBe('one\ntwo\nthree\n');
  });

  it('reports a program the kernel refuses to run as an error event shaped like child_process', async () => {
    const dir = makeTmpDir('native-spawn-');
    const file = join(dir, 'not-a-program');
    writeFileSync(file, Buffer.from([0, 1, 2, 3]), { mode: 0o755 });
    const child = spawner.spawn(file, [], {}, ['pipe', 'pipe', 'pipe']);
    if (child === undefined) throw new Error('the addon refused at once');
    const [err] = (await withTimeout(once(child, 'error'), 2000, 'the start error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ENOEXEC');
    expect(err.message).toBe(`spawn ${file} ENOEXEC`);
    expect(child.pid).toBeUndefined();
    expect(spawner.running).toBe(0);
  });

  it('a stop asked for before the pid is known still ends the process group once it starts', async () => {
    const proc = spawnFunction(createSpawner(spawner), '/bin/sleep', {
      args: ['5'],
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'pipe'],
      graceMs: 200,
    });
    expect(proc.child.pid).toBeUndefined();
    proc.stop('shutdown');
    const outcome = await withTimeout(proc.done, 2000, 'sleep to be stopped');
    expect(outcome).toMatchObject({ code: null, signal: 'SIGTERM', stoppedBy: 'shutdown' });
  });

  describe('behind the watchdog', () => {
    it('streaming mode echoes the body through a process started by the addon', async () => {
      const wd = await startWatchdog({ fprocess: 'cat' }, { spawner: createSpawner(spawner) });
      const before = spawner.running;
      const res = await withTimeout(
        send(wd.url, { method: 'POST', body: 'via posix_spawn' }),
        3000,
        'streaming answer',
      );
      expect(res.status).toBe(200);
      expect(res.text).toBe('via posix_spawn');
      expect(spawner.running).toBe(before);
    });

    it('classic mode combines stdout and stderr of a 1 MiB answer through the shared socket', async () => {
      const wd = await startWatchdog({ mode: 'classic', fprocess: 'cat' }, { spawner: createSpawner(spawner) });
      const body = Buffer.alloc(1 << 20, 'a');
      const res = await withTimeout(send(wd.url, { method: 'POST', body }), 5000, 'classic answer');
      expect(res.status).toBe(200);
      expect(res.body.equals(body)).toBe(true);
    });

    it('serializing mode answers 500 with the exit status of a failing process', async () => {
      const wd = await startWatchdog(
        { mode: 'serializing', fprocess: `${fixture('exit-code')} 2 quiet` },
        { spawner: createSpawner(spawner) },
      );
      const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 3000, 'serializing answer');
      expect(res.status).toBe(500);
      expect(res.text).toContain('exit status 2');
    });

    it('exec_timeout answers 504 and the process started by the addon is ended and collected', async () => {
      const wd = await startWatchdog(
        { fprocess: 'sleep 5', exec_timeout: '200ms' },
        { spawner: createSpawner(spawner) },
      );
      const res = await withTimeout(send(wd.url, { method: 'POST', body: 'x' }), 3000, 'timeout answer');
      expect(res.status).toBe(504);
      await until(() => spawner.running === 0, 2000, 'the process to be collected');
    });
  });
});
