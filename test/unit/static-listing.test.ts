import type { Dirent } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../src/escape-html.js';
import { directoryListing, escapeHref } from '../../src/modes/static.js';

function entry(name: string, dir = false): Dirent {
  return { name, isDirectory: () => dir } as Dirent;
}

describe('static mode listing', () => {
  it('escapes hrefs like Go url.URL{Path}.String()', () => {
    expect(escapeHref('a b.txt')).toBe('a%20b.txt');
    expect(escapeHref('q?#.txt')).toBe('q%3F%23.txt');
    expect(escapeHref('x&y=z@1+2,3;$.txt')).toBe('x&y=z@1+2,3;$.txt');
    expect(escapeHref('é')).toBe('%C3%A9');
    expect(escapeHref('a:b')).toBe('./a:b');
    expect(escapeHref('dir/')).toBe('dir/');
  });

  it('escapes text like Go htmlReplacer', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('sorts entries by name and marks folders with a slash', () => {
    expect(directoryListing([entry('b'), entry('a', true), entry('.env')])).toBe(
      '<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n<a href=".env">.env</a>\n<a href="a/">a/</a>\n<a href="b">b</a>\n</pre>\n',
    );
  });
});
