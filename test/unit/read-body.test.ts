import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WatchdogError } from '../../src/errors.js';
import { durationSeconds } from '../../src/modes/duration-seconds.js';
import { readBody } from '../../src/modes/read-body.js';

describe('readBody', () => {
  it('collects every chunk of the stream', async () => {
    const body = await readBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
    expect(body.toString()).toBe('abcd');
  });

  it('gives an empty buffer for an empty stream', async () => {
    expect((await readBody(Readable.from([]))).length).toBe(0);
  });

  it('passes a WatchdogError from the stream through unchanged', async () => {
    const err = new WatchdogError('BODY_TOO_LARGE', 'too big\n');
    const stream = new Readable({ read() {} });
    const reading = readBody(stream);
    stream.destroy(err);
    await expect(reading).rejects.toBe(err);
  });

  it('turns any other stream failure into a 400 naming its code', async () => {
    const stream = new Readable({ read() {} });
    const reading = readBody(stream);
    stream.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await expect(reading).rejects.toMatchObject({
      status: 400,
      code: 'BODY_READ_FAILED',
      body: 'cannot read the request body: ECONNRESET\n',
    });
  });

  it('reports a stream that already failed before it was read', async () => {
    const err = new WatchdogError('BODY_TOO_LARGE', 'too big\n');
    const stream = new Readable({ read() {} });
    stream.on('error', () => {
      // Nobody reads it yet, as when the call is queued.
    });
    stream.destroy(err);
    await new Promise((r) => setImmediate(r));
    await expect(readBody(stream)).rejects.toBe(err);
  });

  it('rejects when the stream closes without an end (client gone)', async () => {
    const stream = new Readable({ read() {} });
    const reading = readBody(stream);
    stream.destroy();
    await expect(reading).rejects.toMatchObject({ status: 400 });
  });
});

describe('durationSeconds', () => {
  it('formats elapsed seconds with six decimals like Go %f', () => {
    expect(durationSeconds(performance.now() - 1500)).toMatch(/^1\.5\d{5}$/);
  });
});
