// Load generators: autocannon for request rates, one big streamed request for throughput.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';

/**
 * Runs autocannon against `port` for `seconds` and returns the figures the table shows.
 * `opts`: connections, method, body (string/Buffer), path, headers.
 */
export async function hammer(port, seconds, opts) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${opts.path ?? '/'}`,
    connections: opts.connections,
    duration: seconds,
    method: opts.method ?? 'GET',
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    headers: opts.headers ?? {},
    timeout: 10,
    // autocannon checks its deadline once per sample: sample faster for short segments.
    sampleInt: seconds < 2 ? 250 : 1000,
  });
  const elapsedS = result.duration > 0 ? result.duration : seconds; // autocannon reports seconds
  return {
    requests: result.requests.total,
    seconds: elapsedS,
    reqPerSec: result.requests.total / elapsedS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: (result.errors ?? 0) + (result.timeouts ?? 0) + (result.non2xx ?? 0),
  };
}

/** A Readable of `totalBytes` bytes made of one reused chunk (no allocation per chunk). */
function bytesStream(totalBytes, chunkBytes = 1 << 20) {
  const chunk = Buffer.alloc(chunkBytes, 'abcdefghijklmnopqrstuvwxyz\n');
  let left = totalBytes;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

/**
 * Sends one request (optionally streaming a `uploadBytes` body) and reads the whole response.
 * Resolves { status, bytes, seconds, mbPerSec } where MB/s counts the larger of sent and received.
 */
export function transfer(port, { method = 'GET', path = '/', uploadBytes = 0 }) {
  return new Promise((resolveTransfer, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent: false,
        headers:
          uploadBytes > 0 ? { 'Content-Type': 'application/octet-stream', 'Content-Length': String(uploadBytes) } : {},
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c) => {
          bytes += c.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          const seconds = (performance.now() - started) / 1000;
          const moved = Math.max(bytes, uploadBytes);
          resolveTransfer({ status: res.statusCode ?? 0, bytes, seconds, mbPerSec: moved / (1 << 20) / seconds });
        });
      },
    );
    req.on('error', reject);
    if (uploadBytes > 0) bytesStream(uploadBytes).pipe(req);
    else req.end();
  });
}

/**
 * The ceiling of a streaming call without HTTP: `totalBytes` written into a `cat` process and read
 * back from it, by this process, with the same chunks as transfer(). Resolves { bytes, seconds }.
 */
export function catPipe(totalBytes) {
  return new Promise((resolvePipe, reject) => {
    const started = performance.now();
    const child = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    let bytes = 0;
    child.on('error', reject);
    child.stdout.on('data', (c) => {
      bytes += c.length;
    });
    child.stdout.on('end', () => resolvePipe({ bytes, seconds: (performance.now() - started) / 1000 }));
    bytesStream(totalBytes).pipe(child.stdin);
  });
}
