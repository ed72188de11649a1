// In-process cost per request of cgi_response's head parsing and cgi_env=rfc3875's variables (no processes, no sockets).
// Usage: node bench/cgi-parse-cost.mjs   (bundles the two modules with esbuild into a temp folder, then times them)
import { build } from 'esbuild';
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import process from 'node:process';

const dir = mkdtempSync(join(tmpdir(), 'fwd-cgi-bench-'));
try {
  const entry = join(dir, 'entry.ts');
  writeFileSync(
    entry,
    `export * from '${process.cwd()}/src/modes/cgi-response.ts';\nexport * from '${process.cwd()}/src/process/cgi-env.ts';\n`,
  );
  const out = join(dir, 'cgi.mjs');
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    packages: 'external',
  });
  const m = await import(pathToFileURL(out).href);
  const N = 200_000;
  const time = (label, fn) => {
    for (let i = 0; i < 20_000; i++) fn(); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < N; i++) fn();
    process.stdout.write(`${label.padEnd(58)} ${(((performance.now() - t0) * 1000) / N).toFixed(2)} µs/request\n`);
  };
  const out1 = Buffer.from(
    `Status: 201 Created\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n${'x'.repeat(1024)}`,
  );
  const socket = {
    localPort: 8080,
    localAddress: '::ffff:10.0.0.2',
    remoteAddress: '::ffff:10.0.0.9',
    remotePort: 5555,
  };
  const rawHeaders = [
    'Host',
    'fn.example.com:8080',
    'User-Agent',
    'curl/8.5.0',
    'Accept',
    '*/*',
    'Content-Type',
    'application/json',
    'Content-Length',
    '1024',
    'X-Call-Id',
    'abc-123',
    'Cookie',
    'a=1',
    'Cookie',
    'b=2',
  ];
  const req = { method: 'POST', url: '/a%20b/c?x=1&y=2', httpVersion: '1.1', rawHeaders, socket };
  time('parseCgiOutput: 4-line head + 1 KiB body', () => m.parseCgiOutput(out1, true));
  time('CgiHeadReader: the same output in one chunk', () => new m.CgiHeadReader().push(out1));
  time('cgiVariables (Http_*, the default), 8 headers', () => m.cgiVariables(req, { classic: false }));
  time('rfc3875Variables, the same request', () => m.rfc3875Variables(req, { serverSoftware: 'fwatchdog/bench' }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
