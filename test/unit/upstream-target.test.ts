import { describe, expect, it } from 'vitest';
import { upstreamPath, upstreamTarget } from '../../src/modes/http/upstream-target.js';

describe('upstreamTarget', () => {
  it('takes upstream_url apart: host, port, path prefix without its trailing slash', () => {
    expect(upstreamTarget(new URL('http://127.0.0.1:5000/'))).toMatchObject({
      hostname: '127.0.0.1',
      port: 5000,
      basePath: '',
      host: '127.0.0.1:5000',
    });
    expect(upstreamTarget(new URL('http://localhost:8081/api/'))).toMatchObject({
      basePath: '/api',
      host: 'localhost:8081',
    });
    expect(upstreamTarget(new URL('http://localhost/api'))).toMatchObject({ port: 80, basePath: '/api' });
    expect(upstreamTarget(new URL('http://[::1]:9000'))).toMatchObject({
      hostname: '::1',
      port: 9000,
      host: '[::1]:9000',
    });
  });
});

describe('upstreamPath', () => {
  it('puts the request target under the prefix, reducing an absolute-form target to its path and query', () => {
    expect(upstreamPath('', '/a?b=1')).toBe('/a?b=1');
    expect(upstreamPath('/api', '/a?b=1')).toBe('/api/a?b=1');
    expect(upstreamPath('/api', 'http://example.com/a/b?c=d')).toBe('/api/a/b?c=d');
    expect(upstreamPath('/api', '*')).toBe('/api/*');
  });
});
