// Item 5 of issue 25: the port is bound as soon as the config is read, before the mode and its function
// load (faasd counts a replica available once its task runs: until the watchdog listens, the first caller
// gets the gateway's 500). A connection made during the load waits, and is answered once ready.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { BINARY, ensureBinary } from '../helpers/binary.js';
import { freePort, until } from '../helpers/process.js';
import { makeTmpDir, withTimeout } from '../helpers/watchdog.js';

beforeAll(() => ensureBinary(), 120_000);

/** Resolves true once a TCP connection to `port` succeeds (polled every 2 ms), false after `ms`. */
async function connectable(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

describe('listening early', () => {
  it('accepts connections while an inproc function module is still loading, then answers the request made meanwhile', async () => {
    const dir = makeTmpDir();
    const handler = join(dir, 'slow-handler.mjs');
    // Its import takes 1.5 s: the watchdog used to bind its port only after it.
    writeFileSync(
      handler,
      "await new Promise((r) => setTimeout(r, 1500));\nexport default (req, res) => res.end('ready');\n",
    );
    const port = await freePort();
    const child = spawn(BINARY, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        port: String(port),
        metrics_port: '0',
        mode: 'inproc',
        fprocess: handler,
        TMPDIR: dir,
        healthcheck_interval: '0',
        log_format: 'text',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    expect(await connectable(port, 5000), stderr).toBe(true);
    const connectedAt = Date.now();
    // Connected while the module was still loading: its load is logged well after.
    await withTimeout(
      until(() => stderr.includes('Loaded '), 5000, 'the module to load'),
      6000,
      'the module to load',
    );
    expect(Date.now() - connectedAt, stderr).toBeGreaterThan(500);
    const answer = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        let text = '';
        s.setEncoding('utf8').on('data', (d: string) => (text += d));
        s.on('close', () => resolve(text));
        s.on('error', reject);
      }),
      5000,
      'the answer to the early request',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('ready');
  });
});
