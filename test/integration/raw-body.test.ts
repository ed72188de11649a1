import { createHmac, randomBytes } from 'node:crypto';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createSecretMount } from '../helpers/auth-secrets.js';
import { send } from '../helpers/http.js';
import { fixture, startWatchdog, withTimeout } from '../helpers/watchdog.js';
import { freePort } from '../helpers/process.js';

/** One PNG chunk: length, type, data, CRC-32 of type + data. */
function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A real, valid RGB PNG of `width` x `height` noisy pixels (noise does not compress, so it stays a few MB). */
function makePng(width: number, height: number): Buffer {
  const rowBytes = width * 3 + 1;
  const raw = randomBytes(rowBytes * height);
  for (let y = 0; y < height; y++) raw[y * rowBytes] = 0; // filter type "None" on every scanline
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw, { level: 1 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Checks the PNG structure (signature, chunk CRCs, inflatable pixel data of the right size). */
function isValidPng(png: Buffer): boolean {
  if (png.readUInt32BE(0) !== 0x89504e47) return false;
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (crc32(png.subarray(offset + 4, offset + 8 + length)) !== png.readUInt32BE(offset + 8 + length)) return false;
    if (type === 'IHDR') [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  return inflateSync(Buffer.concat(idat)).length === (width * 3 + 1) * height;
}

const IMAGE = makePng(1200, 1000);
const SECRET = 'raw-body-hmac-secret';
const signature = `sha256=${createHmac('sha256', SECRET).update(IMAGE).digest('hex')}`;

/** The watchdog env per mode; each echoes the request body back (the http upstream on /echo-body; the fork modes ignore the path). */
const MODES: Record<string, () => Promise<Record<string, string>>> = {
  streaming: async () => ({ mode: 'streaming', fprocess: 'cat', content_type: 'image/png' }),
  serializing: async () => ({ mode: 'serializing', fprocess: 'cat', content_type: 'image/png' }),
  // cat writes nothing to stderr, so combine_output (on by default) cannot mix text into the image.
  classic: async () => ({ mode: 'classic', fprocess: 'cat' }),
  http: async () => {
    const port = await freePort();
    return {
      mode: 'http',
      fprocess: fixture('upstreams/upstream'),
      upstream_url: `http://127.0.0.1:${port}`,
      PORT: String(port),
    };
  },
};

describe('RAW_BODY: a binary body end to end', () => {
  it('uses a real PNG image of a few MB', () => {
    expect(IMAGE.length).toBeGreaterThan(3_000_000);
    expect(isValidPng(IMAGE)).toBe(true);
  });

  for (const [name, envFor] of Object.entries(MODES)) {
    it(`${name} mode passes a ${(IMAGE.length / 1e6).toFixed(1)} MB PNG to the function and back byte-exact`, async () => {
      const wd = await startWatchdog(await envFor());
      const res = await withTimeout(
        send(`${wd.url}/echo-body`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: IMAGE }),
        10_000,
        `${name} echo`,
      );
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('image/png');
      expect(res.body.length).toBe(IMAGE.length);
      expect(res.body.equals(IMAGE)).toBe(true);
    });

    it(`${name} mode verifies the HMAC of the PNG before the function sees it`, async () => {
      const mount = createSecretMount({ 'hook-secret': SECRET });
      const wd = await startWatchdog({
        ...(await envFor()),
        secret_mount_path: mount.path,
        auth_hmac_secret: 'hook-secret',
      });
      const ok = await withTimeout(
        send(`${wd.url}/echo-body`, {
          method: 'POST',
          headers: { 'Content-Type': 'image/png', 'X-Hub-Signature-256': signature },
          body: IMAGE,
        }),
        10_000,
        `${name} signed`,
      );
      expect(ok.status).toBe(200);
      expect(ok.body.equals(IMAGE)).toBe(true);
      const tampered = Buffer.from(IMAGE);
      tampered[tampered.length >> 1] = (tampered[tampered.length >> 1] as number) ^ 0xff;
      const bad = await withTimeout(
        send(`${wd.url}/echo-body`, {
          method: 'POST',
          headers: { 'Content-Type': 'image/png', 'X-Hub-Signature-256': signature },
          body: tampered,
        }),
        10_000,
        `${name} tampered`,
      );
      expect(bad.status).toBe(401);
      expect(bad.text).toBe('invalid body signature\n');
    });
  }
});
