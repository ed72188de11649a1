import { describe, expect, it } from 'vitest';
import { cleanPath, isUncleanPath, originForm } from '../../src/server/clean-path.js';

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
