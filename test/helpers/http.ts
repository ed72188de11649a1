// A small promise wrapper over node:http for tests that need raw control (no fetch magic).
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
