import { describe, expect, it } from 'vitest';
import { unmapIpv4 } from '../../src/peer-address.js';

describe('unmapIpv4', () => {
  it('unmaps the IPv4-mapped form a dual-stack socket reports for an IPv4 peer', () => {
    expect(unmapIpv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(unmapIpv4('::FFFF:10.1.2.3')).toBe('10.1.2.3');
  });

  it('keeps every other address as it is', () => {
    for (const address of [
      '127.0.0.1',
      '::1',
      '::ffff:7f00:1',
      '::ffff:',
      '::ffff:1.2.3',
      '::ffff:1.2.3.4.5',
      '::ffff:a.b.c.d',
      'fe80::ffff:1.2.3.4',
      '2001:db8::1',
    ]) {
      expect(unmapIpv4(address), address).toBe(address);
    }
    expect(unmapIpv4(undefined)).toBeUndefined();
  });
});
