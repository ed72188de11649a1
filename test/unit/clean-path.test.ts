import { describe, expect, it } from 'vitest';
import {
  cleanPath,
  hasEncodedNul,
  hasEncodedSlashDotSegment,
  isUncleanPath,
  originForm,
} from '../../src/server/clean-path.js';

describe('Go path cleaning', () => {
  it.each([
    ['/a//b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/b/../c', '/a/c'],
    ['/../x', '/x'],
    ['/a/b/..', '/a'],
    ['/a/.', '/a'],
    ['//', '/'],
    ['/a//b/', '/a/b/'],
    ['', '/'],
  ])('cleans %s to %s', (input, expected) => {
    expect(cleanPath(input)).toBe(expected);
  });

  it.each(['/', '/a', '/a/b/', '/a.b', '/.well-known/x', '/a/..b', '/a/b.'])('leaves the clean path %s alone', (p) => {
    expect(isUncleanPath(p)).toBe(false);
  });

  it.each(['/a//b', '/a/./b', '/a/../b', '/a/..', '/a/.', '//'])('marks %s as unclean', (p) => {
    expect(isUncleanPath(p)).toBe(true);
  });
});

describe('absolute-form request targets', () => {
  it.each([
    ['http://example.com/a/b?q=1', '/a/b?q=1'],
    ['http://example.com:8080', '/'],
    ['HTTP://h?x', '/?x'],
    ['/already/origin', '/already/origin'],
    ['*', '*'],
  ])('turns %s into %s', (target, expected) => {
    expect(originForm(target)).toBe(expected);
  });
});

describe('percent-encoded dot segments (issue #22)', () => {
  it.each([
    ['/%2e%2e/outside.txt', '/outside.txt'],
    ['/.%2E/x', '/x'],
    ['/%2E./x', '/x'],
    ['/a/%2e/b', '/a/b'],
    ['/a/b/%2E%2e', '/a'],
    ['/a/%2e%2e/', '/'],
    ['/%2e%2e%20/x', '/%2e%2e%20/x'],
  ])('cleans %s to %s', (input, expected) => {
    expect(cleanPath(input)).toBe(expected);
  });

  it.each(['/%2e%2e/x', '/.%2e/', '/a/%2E'])('marks %s as unclean', (p) => {
    expect(isUncleanPath(p)).toBe(true);
  });

  it.each(['/%20', '/a%2fb', '/%2e%2ex', '/x.%2e.', '/%252e%252e/x'])('leaves %s alone', (p) => {
    expect(isUncleanPath(p)).toBe(false);
  });

  it.each(['/%2e%2e%2f', '/a%2f..%2fb', '/a/..%2Fb', '/x%2F.%2Fy', '/a%2f%2E%2e'])(
    'finds the dot segment %s hides behind %%2F',
    (p) => {
      expect(isUncleanPath(p)).toBe(false);
      expect(hasEncodedSlashDotSegment(p)).toBe(true);
    },
  );

  it('finds %00, which would cut the decoded path short', () => {
    expect(hasEncodedNul('/secret.txt%00.png')).toBe(true);
    expect(hasEncodedNul('/a%2500')).toBe(false);
  });

  it.each(['/a%2fb', '/a%2f..b', '/%2f%2f', '/..x%2f', '/%252e%252e%2fx'])('finds no dot segment in %s', (p) => {
    expect(hasEncodedSlashDotSegment(p)).toBe(false);
  });
});
