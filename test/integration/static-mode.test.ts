import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { makeTmpDir, startWatchdog, type TestWatchdog } from '../helpers/watchdog.js';

const INDEX = '<html><body>home</body></html>\n';
const BIG = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

/** static_path with an index, a folder to list, a folder with its own index, and symlinks in and out. */
function makeSite(): { root: string; outside: string } {
  const base = makeTmpDir('fwd-static-');
  const root = join(base, 'public');
  const outside = join(base, 'public-secret');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'top secret\n');
  mkdirSync(join(root, 'sub', 'nested'), { recursive: true });
  mkdirSync(join(root, 'docs'));
  writeFileSync(join(root, 'index.html'), INDEX);
  writeFileSync(join(root, 'style.css'), 'body{}\n');
  writeFileSync(join(root, 'data.json'), '{"a":1}\n');
  writeFileSync(join(root, 'big.txt'), BIG);
  writeFileSync(join(root, 'docs', 'index.html'), '<p>docs</p>\n');
  writeFileSync(join(root, 'sub', 'a b.txt'), 'spaced\n');
  writeFileSync(join(root, 'sub', '.hidden'), 'dot\n');
  writeFileSync(join(root, 'sub', 'x&y<z>.txt'), 'odd\n');
  symlinkSync(outside, join(root, 'escape'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'secret-link.txt'));
  symlinkSync(join(root, 'style.css'), join(root, 'inner-link.css'));
  return { root, outside };
}

describe('static mode', () => {
  let wd: TestWatchdog;
  beforeEach(async () => {
    const { root } = makeSite();
    wd = await startWatchdog({ mode: 'static', static_path: root, log_format: 'text' });
  });

  it('serves index.html for / with an HTML Content-Type and logs where it serves from', async () => {
    const res = await send(`${wd.url}/`);
    expect(res.status).toBe(200);
    expect(res.text).toBe(INDEX);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    await wd.logs.waitFor('Serving files at:');
  });

  it('redirects /index.html and /docs/index.html to ./ with 301', async () => {
    for (const path of ['/index.html', '/docs/index.html']) {
      const res = await send(`${wd.url}${path}`);
      expect(res.status, path).toBe(301);
      expect(res.headers.location).toBe('./');
    }
  });

  it('redirects a folder without its trailing slash with 301, query kept, and serves its index.html with the slash', async () => {
    const res = await send(`${wd.url}/docs?v=1`);
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('docs/?v=1');
    const docs = await send(`${wd.url}/docs/`);
    expect(docs.status).toBe(200);
    expect(docs.text).toBe('<p>docs</p>\n');
  });

  it('redirects a file asked for with a trailing slash to ../name', async () => {
    const res = await send(`${wd.url}/style.css/`);
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('../style.css');
  });

  it('lists a folder without index.html like Go: sorted, folders with /, dotfiles, names escaped', async () => {
    const res = await send(`${wd.url}/sub/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toBe(
      '<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n' +
        '<a href=".hidden">.hidden</a>\n' +
        '<a href="a%20b.txt">a b.txt</a>\n' +
        '<a href="nested/">nested/</a>\n' +
        '<a href="x&y%3Cz%3E.txt">x&amp;y&lt;z&gt;.txt</a>\n' +
        '</pre>\n',
    );
  });

  it('answers 404 page not found for a missing file', async () => {
    const res = await send(`${wd.url}/nope.txt`);
    expect(res.status).toBe(404);
    expect(res.text).toBe('404 page not found\n');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('sets Content-Type from the extension and serves files for any method', async () => {
    expect((await send(`${wd.url}/style.css`)).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await send(`${wd.url}/data.json`)).headers['content-type']).toBe('application/json; charset=utf-8');
    const post = await send(`${wd.url}/data.json`, { method: 'POST', body: 'ignored' });
    expect(post.status).toBe(200);
    expect(post.text).toBe('{"a":1}\n');
    const head = await send(`${wd.url}/big.txt`, { method: 'HEAD' });
    expect(head.headers['content-length']).toBe(String(BIG.length));
    expect(head.body.length).toBe(0);
  });

  it('answers a Range request with 206 and the requested bytes', async () => {
    const res = await send(`${wd.url}/big.txt`, { headers: { Range: 'bytes=10-15' } });
    expect(res.status).toBe(206);
    expect(res.text).toBe('abcdef');
    expect(res.headers['content-range']).toBe(`bytes 10-15/${BIG.length}`);
    expect(res.headers['accept-ranges']).toBe('bytes');
  });

  it('answers conditional requests with 304', async () => {
    const first = await send(`${wd.url}/big.txt`);
    const lastModified = first.headers['last-modified'] as string;
    expect(lastModified).toBeDefined();
    expect((await send(`${wd.url}/big.txt`, { headers: { 'If-Modified-Since': lastModified } })).status).toBe(304);
    expect(
      (await send(`${wd.url}/big.txt`, { headers: { 'If-None-Match': first.headers.etag as string } })).status,
    ).toBe(304);
    const listing = await send(`${wd.url}/sub/`);
    expect(
      (await send(`${wd.url}/sub/`, { headers: { 'If-Modified-Since': listing.headers['last-modified'] as string } }))
        .status,
    ).toBe(304);
  });

  it('never serves anything outside static_path: .., encoded dots and slashes, symlinks pointing out', async () => {
    const attempts = [
      '/../public-secret/secret.txt',
      '/%2e%2e/public-secret/secret.txt',
      '/%2E%2E%2Fpublic-secret%2Fsecret.txt',
      '/sub/..%2f..%2fpublic-secret/secret.txt',
      '/escape/secret.txt',
      '/escape/',
      '/secret-link.txt',
      '/..%5c..%5cpublic-secret%5csecret.txt',
    ];
    for (const path of attempts) {
      const res = await send(wd.url, { path });
      expect(res.status, path).not.toBe(200);
      expect(res.text, path).not.toContain('top secret');
    }
    // A symlink that stays inside is followed.
    const inner = await send(`${wd.url}/inner-link.css`);
    expect(inner.status).toBe(200);
    expect(inner.text).toBe('body{}\n');
  });
});

describe('static mode start-up', () => {
  it('refuses to start when static_path does not exist', async () => {
    const missing = join(makeTmpDir(), 'does-not-exist');
    await expect(startWatchdog({ mode: 'static', static_path: missing })).rejects.toThrow(
      /static_path=.*does-not-exist.*ENOENT/,
    );
  });
});
