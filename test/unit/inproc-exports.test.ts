import { describe, expect, it } from 'vitest';
import { pickExports } from '../../src/modes/inproc/load-module.js';

const FILE = '/app/index.mjs';
const listener = (): void => {};

describe('pickExports: which export of an inproc module is the handler', () => {
  it('takes a default function as a request listener, with named ready and shutdown', () => {
    const ready = async (): Promise<void> => {};
    const picked = pickExports(FILE, { default: listener, ready, shutdown: ready });
    expect(picked.handler).toEqual({ kind: 'listener', listener });
    expect(picked.ready).toBe(ready);
    expect(picked.shutdown).toBe(ready);
  });

  it('takes export default { fetch, ready, shutdown }, calling them on that object', async () => {
    const app = {
      name: 'app',
      fetch(this: { name: string }): Response {
        return new Response(this.name);
      },
      ready(this: { name: string }): string {
        return `${this.name} ready`;
      },
    };
    const picked = pickExports(FILE, { default: app });
    expect(picked.handler.kind).toBe('fetch');
    if (picked.handler.kind === 'fetch')
      expect(await (await picked.handler.fetch(new Request('http://x/'))).text()).toBe('app');
    expect(picked.ready?.()).toBe('app ready');
    expect(picked.shutdown).toBeUndefined();
  });

  it('takes a named fetch export when there is no default', () => {
    const fetch = (): Response => new Response('');
    expect(pickExports(FILE, { fetch }).handler).toEqual({ kind: 'fetch', fetch });
  });

  it('unwraps a CommonJS module compiled from ESM (exports.default with __esModule)', () => {
    expect(pickExports(FILE, { default: { __esModule: true, default: listener } }).handler).toEqual({
      kind: 'listener',
      listener,
    });
  });

  it('reads hooks set on a CommonJS function export (module.exports.shutdown = ...)', () => {
    const fn = Object.assign((): void => {}, { shutdown: (): string => 'bye' });
    expect(pickExports(FILE, { default: fn }).shutdown?.()).toBe('bye');
  });

  it('names the file and what it does export when there is no handler', () => {
    expect(() => pickExports(FILE, { helper: listener, default: { a: 1 } })).toThrow(
      `${FILE} has no handler: export default a node:http request listener (req, res) => {...}, or a fetch(request) function that returns a Response; its exports are helper, default (default is an object with a)`,
    );
    expect(() => pickExports(FILE, {})).toThrow('it exports nothing');
  });
});
