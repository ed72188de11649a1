// A small promise wrapper over node:http for tests that need raw control (no fetch magic).
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface SendOptions extends RequestOptions {
  body?: Buffer | string | AsyncIterable<Buffer | string>;
}

/** Sends one request with a fresh connection and collects the whole response. */
export function send(url: string, options: SendOptions = {}): Promise<RawResponse> {
  const { body, ...rest } = options;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, ...rest }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text: buf.toString('utf8') });
      });
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      (async () => {
        for await (const chunk of body) req.write(chunk);
        req.end();
      })().catch((err: unknown) => req.destroy(err as Error));
    }
  });
}

/** Hex SHA-256 of a body, to compare large payloads without printing them. */
export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** `data` as a stream of `size`-byte chunks (sent chunked, since no length is known up front). */
export async function* chunksOf(data: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** The value of one series in a Prometheus text exposition (NaN when absent). */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

/** GET /metrics on the metrics port. */
export async function scrapeMetrics(port: number | undefined): Promise<string> {
  const res = await send(`http://127.0.0.1:${port as number}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return res.text;
}
