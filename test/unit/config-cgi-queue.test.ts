// The variables of cgi_response, cgi_env, max_queue and queue_timeout through the strict configuration.
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/load-config.js';
import { configOk as ok, configProblems } from '../helpers/config.js';

const problems = (env: Env): string => configProblems(env).join('\n');

describe('cgi_response and cgi_env', () => {
  it('default to off and the Http_* variables only', () => {
    const c = ok({ fprocess: 'cat' });
    expect(c.cgiResponse).toBe(false);
    expect(c.cgiEnv).toBe('openfaas');
  });

  it('read cgi_response=true and cgi_env=rfc3875', () => {
    const c = ok({ fprocess: 'cat', cgi_response: 'true', cgi_env: 'rfc3875' });
    expect(c.cgiResponse).toBe(true);
    expect(c.cgiEnv).toBe('rfc3875');
  });

  it('name the variable, the value and what is allowed for bad values', () => {
    expect(problems({ fprocess: 'cat', cgi_response: 'maybe' })).toContain(
      'cgi_response="maybe" is not a boolean: use true/false',
    );
    expect(problems({ fprocess: 'cat', cgi_env: 'apache' })).toContain(
      'cgi_env="apache" is not allowed: use one of openfaas, rfc3875',
    );
  });

  it('turn combine_output off by default in classic with cgi_response, and refuse it explicitly on', () => {
    expect(ok({ fprocess: 'cat', mode: 'classic', cgi_response: 'true' }).combineOutput).toBe(false);
    expect(ok({ fprocess: 'cat', mode: 'classic' }).combineOutput).toBe(true);
    expect(problems({ fprocess: 'cat', mode: 'classic', cgi_response: 'true', combine_output: 'true' })).toContain(
      'combine_output=true cannot be used with cgi_response=true',
    );
  });
});

describe('max_queue and queue_timeout', () => {
  it('default to no queue and a 10 s wait', () => {
    const c = ok({ fprocess: 'cat' });
    expect(c.maxQueue).toBe(0);
    expect(c.queueTimeoutMs).toBe(10_000);
  });

  it('read a queue size and a Go duration', () => {
    const c = ok({ fprocess: 'cat', max_inflight: '4', max_queue: '20', queue_timeout: '1.5s' });
    expect(c.maxQueue).toBe(20);
    expect(c.queueTimeoutMs).toBe(1500);
    expect(ok({ fprocess: 'cat', max_inflight: '1', max_queue: '1', queue_timeout: '0' }).queueTimeoutMs).toBe(0);
  });

  it('name the variable, the value and what is allowed for bad values', () => {
    expect(problems({ fprocess: 'cat', max_inflight: '1', max_queue: '-1' })).toContain(
      'max_queue="-1" is not valid: a request count must be a whole number >= 0',
    );
    expect(problems({ fprocess: 'cat', max_inflight: '1', max_queue: 'lots' })).toContain(
      'max_queue="lots" is not valid',
    );
    expect(problems({ fprocess: 'cat', queue_timeout: '5 minutes' })).toContain(
      'queue_timeout="5 minutes" is not a duration',
    );
  });

  it('refuse a queue without max_inflight (nothing would ever wait)', () => {
    expect(problems({ fprocess: 'cat', max_queue: '5' })).toContain('max_queue="5" needs max_inflight');
  });
});
