import { describe, expect, it } from 'vitest';
import { configOk as ok, configProblems as problems } from '../helpers/config.js';

describe('loadConfig defaults', () => {
  it('uses of-watchdog defaults in streaming mode (the default mode)', () => {
    const c = ok({ fprocess: 'cat' });
    expect(c.mode).toBe('streaming');
    expect(c.port).toBe(8080);
    expect(c.metricsPort).toBe(8081);
    expect(c.readTimeoutMs).toBe(30_000);
    expect(c.writeTimeoutMs).toBe(30_000);
    expect(c.execTimeoutMs).toBe(30_000);
    expect(c.healthcheckIntervalMs).toBe(30_000);
    expect(c.contentType).toBe('application/octet-stream');
    expect(c.staticPath).toBe('/home/app/public');
    expect(c.maxInflight).toBe(0);
    expect(c.prefixLogs).toBe(true);
    expect(c.logBufferSize).toBe(65536);
    expect(c.logFormat).toBe('json');
    expect(c.lockFilePath).toBe('/tmp/.lock');
  });

  it('uses the octet-stream content_type in serializing mode too', () => {
    expect(ok({ fprocess: 'cat', mode: 'serializing' }).contentType).toBe('application/octet-stream');
  });

  it('turns exec_timeout off, echoes the request Content-Type and enables cgi_headers and combine_output in classic mode', () => {
    const c = ok({ fprocess: 'cat', mode: 'classic' });
    expect(c.execTimeoutMs).toBe(0);
    expect(c.contentType).toBeUndefined();
    expect(c.cgiHeaders).toBe(true);
    expect(c.combineOutput).toBe(true);
    expect(c.marshalRequest).toBe(false);
    expect(c.writeDebug).toBe(false);
    expect(c.debugHeaders).toBe(false);
  });

  it('defaults healthcheck_interval to write_timeout', () => {
    expect(ok({ fprocess: 'cat', write_timeout: '10s' }).healthcheckIntervalMs).toBe(10_000);
    expect(ok({ fprocess: 'cat', write_timeout: '10s', healthcheck_interval: '2' }).healthcheckIntervalMs).toBe(2_000);
  });

  it('accepts bare seconds and Go durations for every duration variable', () => {
    const c = ok({
      fprocess: 'cat',
      read_timeout: '5',
      write_timeout: '1m30s',
      exec_timeout: '1.5s',
      healthcheck_interval: '500ms',
    });
    expect([c.readTimeoutMs, c.writeTimeoutMs, c.execTimeoutMs, c.healthcheckIntervalMs]).toEqual([
      5_000, 90_000, 1_500, 500,
    ]);
  });

  it('names every value of a hand-built map that is not a string', () => {
    expect(
      problems({ fprocess: 'cat', port: 8080 as unknown as string, write_debug: true as unknown as string }),
    ).toEqual(['port is not a string (number)', 'write_debug is not a string (boolean)']);
  });

  it('treats a set-but-empty variable as unset', () => {
    expect(ok({ fprocess: 'cat', port: '', exec_timeout: '' })).toMatchObject({ port: 8080, execTimeoutMs: 30_000 });
  });

  it('needs no fprocess in static mode', () => {
    expect(ok({ mode: 'static' }).argv).toEqual([]);
  });
});

describe('loadConfig aliases', () => {
  it('reads function_process, and prefers it over fprocess', () => {
    expect(ok({ function_process: 'node index.js' }).argv).toEqual(['node', 'index.js']);
    expect(ok({ fprocess: 'cat', function_process: 'env' }).argv).toEqual(['env']);
  });

  it('reads http_upstream_url, and prefers it over upstream_url', () => {
    expect(ok({ mode: 'http', fprocess: 'node', http_upstream_url: 'http://127.0.0.1:3000' }).upstreamUrl?.href).toBe(
      'http://127.0.0.1:3000/',
    );
    expect(
      ok({
        mode: 'http',
        fprocess: 'node',
        upstream_url: 'http://127.0.0.1:1',
        http_upstream_url: 'http://127.0.0.1:2',
      }).upstreamUrl?.port,
    ).toBe('2');
  });

  it('turns buffering on when either buffer_http or http_buffer_req_body is true', () => {
    expect(ok({ fprocess: 'cat', buffer_http: 'true' }).bufferHttpBody).toBe(true);
    expect(ok({ fprocess: 'cat', http_buffer_req_body: '1' }).bufferHttpBody).toBe(true);
    expect(ok({ fprocess: 'cat', http_buffer_req_body: 'false', buffer_http: 'true' }).bufferHttpBody).toBe(true);
    expect(ok({ fprocess: 'cat' }).bufferHttpBody).toBe(false);
  });

  it('reads log_callid and its README spelling log_call_id', () => {
    expect(ok({ fprocess: 'cat', log_callid: 'true' }).logCallId).toBe(true);
    expect(ok({ fprocess: 'cat', log_call_id: 'yes' }).logCallId).toBe(true);
    expect(ok({ fprocess: 'cat' }).logCallId).toBe(false);
  });

  it('accepts true/false, 1/0, yes/no and on/off for booleans', () => {
    for (const v of ['true', '1', 'yes', 'on', 'TRUE'])
      expect(ok({ fprocess: 'cat', mode: 'classic', combine_output: v }).combineOutput).toBe(true);
    for (const v of ['false', '0', 'no', 'off'])
      expect(ok({ fprocess: 'cat', mode: 'classic', cgi_headers: v }).cgiHeaders).toBe(false);
  });
});

describe('loadConfig problems', () => {
  it('reports every bad value in one result, each naming the variable, the value and what is allowed', () => {
    const list = problems({
      port: 'abc',
      exec_timeout: '"30s"',
      read_timeout: '-5s',
      mode: 'lambda',
      suppress_lock: 'maybe',
    });
    expect(list).toHaveLength(6);
    const find = (name: string): string => {
      const hit = list.find((p) => p.startsWith(name));
      if (hit === undefined) throw new Error(`no problem about ${name} in:\n${list.join('\n')}`);
      return hit;
    };
    expect(find('port=')).toMatch(/"abc".*TCP port.*0\.\.65535/);
    expect(find('exec_timeout=')).toMatch(/"\\"30s\\"".*remove the quotes/);
    expect(find('read_timeout=')).toMatch(/"-5s".*negative values are not allowed/);
    expect(find('mode=')).toMatch(/"lambda".*streaming, serializing, http, static, classic/);
    expect(find('suppress_lock=')).toMatch(/"maybe".*true\/false/);
    expect(find('fprocess')).toMatch(/required/);
  });

  it('reports a missing fprocess in every forking mode and in http mode', () => {
    for (const mode of ['streaming', 'serializing', 'classic', 'http']) {
      expect(problems({ mode, upstream_url: 'http://127.0.0.1:1' }).join('\n')).toMatch(/fprocess is required/);
    }
  });

  it('reports a blank fprocess and an unterminated quote', () => {
    expect(problems({ fprocess: '   ' }).join('\n')).toMatch(/fprocess is blank/);
    expect(problems({ fprocess: 'sh -c "echo' }).join('\n')).toMatch(/unterminated double quote/);
  });

  it('reports out-of-range ports, negative counts and the main port colliding with metrics_port', () => {
    expect(problems({ fprocess: 'cat', port: '70000' }).join('\n')).toMatch(/port="70000"/);
    expect(problems({ fprocess: 'cat', max_inflight: '-1' }).join('\n')).toMatch(/max_inflight="-1"/);
    expect(problems({ fprocess: 'cat', port: '9000', metrics_port: '9000' }).join('\n')).toMatch(/both 9000/);
  });

  it('reports an http mode without upstream_url and an upstream_url that is not http', () => {
    expect(problems({ mode: 'http', fprocess: 'node' }).join('\n')).toMatch(/upstream_url is required/);
    expect(problems({ mode: 'http', fprocess: 'node', upstream_url: '127.0.0.1:5000' }).join('\n')).toMatch(
      /upstream_url="127\.0\.0\.1:5000"/,
    );
  });

  it('reports log_buffer_size=0 and accepts a negative one as no limit', () => {
    expect(problems({ fprocess: 'cat', log_buffer_size: '0' }).join('\n')).toMatch(/log_buffer_size="0"/);
    expect(ok({ fprocess: 'cat', log_buffer_size: '-1' }).logBufferSize).toBe(Infinity);
  });
});
