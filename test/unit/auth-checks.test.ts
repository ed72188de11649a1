import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createApiKeyCheck, keyDigest } from '../../src/auth/api-key-check.js';
import { createHmacCheck, hmacKey } from '../../src/auth/hmac-check.js';
import type { SecretFile } from '../../src/auth/secret-file.js';
import { WatchdogError } from '../../src/errors.js';

function fixedSecret<T>(value: T): SecretFile<T> {
  return { name: 's', path: '/s', current: () => ({ ok: true, value }) };
}

function request(headers: Record<string, string>): IncomingMessage {
  const rawHeaders = Object.entries(headers).flat();
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  return { headers: lower, rawHeaders } as unknown as IncomingMessage;
}

describe('the API key check', () => {
  const check = createApiKeyCheck(fixedSecret(keyDigest('secret-key')), 'x-api-key');

  it('accepts the key in the header or as a Bearer token in any case, and strips the carrier', () => {
    const viaHeader = request({ 'X-Api-Key': 'secret-key', 'X-Keep': '1' });
    expect(check(viaHeader)).toBeUndefined();
    expect(viaHeader.headers['x-api-key']).toBeUndefined();
    expect(viaHeader.rawHeaders).toEqual(['X-Keep', '1']);
    const viaBearer = request({ Authorization: 'bearer\tsecret-key' });
    expect(check(viaBearer)).toBeUndefined();
    expect(viaBearer.rawHeaders).toEqual([]);
  });

  it('falls back to Authorization when the key header is empty', () => {
    expect(check(request({ 'X-Api-Key': '', Authorization: 'Bearer secret-key' }))).toBeUndefined();
  });

  it('refuses prefixes, suffixes, other schemes and an empty Bearer', () => {
    for (const headers of [
      { 'X-Api-Key': 'secret-ke' } as Record<string, string>,
      { 'X-Api-Key': 'secret-key2' },
      { Authorization: 'Basic secret-key' },
      { Authorization: 'Bearer ' },
      { Authorization: 'secret-key' },
    ]) {
      const verdict = check(request(headers));
      expect(verdict, JSON.stringify(headers)).toBeInstanceOf(WatchdogError);
      expect(verdict?.status).toBe(401);
    }
  });

  it('strips Bearer when the configured header is Authorization itself', () => {
    const onAuthorization = createApiKeyCheck(fixedSecret(keyDigest('secret-key')), 'authorization');
    expect(onAuthorization(request({ Authorization: 'Bearer secret-key' }))).toBeUndefined();
    expect(onAuthorization(request({ Authorization: 'secret-key' }))).toBeUndefined();
  });

  it('fails closed with 503 when the secret cannot be read', () => {
    const broken: SecretFile<Buffer> = { name: 's', path: '/s', current: () => ({ ok: false, problem: 'not found' }) };
    expect(createApiKeyCheck(broken, 'x-api-key')(request({ 'X-Api-Key': 'anything' }))?.status).toBe(503);
  });
});

describe('the HMAC check', () => {
  const check = createHmacCheck(fixedSecret(hmacKey(Buffer.from('hook'))), 'x-hub-signature-256', 1024);
  const hex = (body: string): string => createHmac('sha256', 'hook').update(body).digest('hex');

  async function verdict(headers: Record<string, string>, body: string): Promise<Readable | WatchdogError> {
    return check(request(headers), Readable.from([Buffer.from(body)]));
  }

  it('returns a readable copy of exactly the verified bytes', async () => {
    const v = await verdict({ 'X-Hub-Signature-256': `sha256=${hex('payload')}` }, 'payload');
    expect(v).toBeInstanceOf(Readable);
    const chunks: Buffer[] = [];
    for await (const c of v as Readable) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('payload');
  });

  it('accepts upper-case hex', async () => {
    expect(await verdict({ 'X-Hub-Signature-256': `sha256=${hex('p').toUpperCase()}` }, 'p')).toBeInstanceOf(Readable);
  });

  it('refuses malformed signatures without reading the body', async () => {
    for (const sig of ['', `sha1=${hex('p')}`, `sha256=${hex('p').slice(1)}`, `sha256=${hex('p')}00`, hex('p')]) {
      const v = await verdict(sig === '' ? {} : { 'X-Hub-Signature-256': sig }, 'p');
      expect(v, sig).toBeInstanceOf(WatchdogError);
      expect((v as WatchdogError).status).toBe(401);
    }
  });

  it('answers 413 once more than the bound has been read', async () => {
    const big = 'x'.repeat(1025);
    const v = await verdict({ 'X-Hub-Signature-256': `sha256=${hex(big)}` }, big);
    expect((v as WatchdogError).status).toBe(413);
  });
});
