// The OTEL_* variables: where spans go, service.name, and the start-up errors for what the exporter cannot do.
import { describe, expect, it } from 'vitest';
import { serviceNameOf, tracesUrlOf } from '../../src/trace/tracing.js';
import { configOk as ok, configProblems as problems } from '../helpers/config.js';

describe('OpenTelemetry configuration', () => {
  it('tracing is off without an endpoint, and the traces URL is the base + v1/traces or the traces endpoint as is', () => {
    expect(tracesUrlOf(ok({ fprocess: 'cat' }))).toBeUndefined();
    expect(tracesUrlOf(ok({ fprocess: 'cat', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }))).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(tracesUrlOf(ok({ fprocess: 'cat', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example/otlp/' }))).toBe(
      'https://c.example/otlp/v1/traces',
    );
    expect(
      tracesUrlOf(
        ok({
          fprocess: 'cat',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom',
        }),
      ),
    ).toBe('http://b:4318/custom');
  });

  it('a bad endpoint or another protocol than http/json stops the start with a clear problem', () => {
    expect(problems({ fprocess: 'cat', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }).join('\n')).toMatch(
      /OTEL_EXPORTER_OTLP_ENDPOINT=.*must use http:\/\/ or https:\/\//,
    );
    expect(problems({ fprocess: 'cat', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }).join('\n')).toMatch(
      /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=.*is not a URL/,
    );
    expect(problems({ fprocess: 'cat', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).join('\n')).toMatch(
      /OTEL_EXPORTER_OTLP_PROTOCOL=.*use one of http\/json/,
    );
  });

  it('OTEL_TRACES_SAMPLER and its ratio are checked at start-up (the SDK applies them)', () => {
    expect(ok({ fprocess: 'cat' }).otelTracesSampler).toBe('parentbased_always_on');
    const set = ok({
      fprocess: 'cat',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
    expect([set.otelTracesSampler, set.otelTracesSamplerArg]).toEqual(['parentbased_traceidratio', 0.1]);
    const bad = problems({ fprocess: 'cat', OTEL_TRACES_SAMPLER: 'sometimes', OTEL_TRACES_SAMPLER_ARG: '10%' }).join(
      '\n',
    );
    expect(bad).toMatch(/OTEL_TRACES_SAMPLER=.*use one of parentbased_always_on/);
    expect(bad).toMatch(/OTEL_TRACES_SAMPLER_ARG=.*a number from 0 to 1/);
    expect(problems({ fprocess: 'cat', OTEL_TRACES_SAMPLER_ARG: '1.5' }).join('\n')).toMatch(/OTEL_TRACES_SAMPLER_ARG/);
  });

  it('service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else the function program or its script', () => {
    expect(serviceNameOf(ok({ fprocess: 'cat', OTEL_SERVICE_NAME: 'figlet' }))).toBe('figlet');
    expect(serviceNameOf(ok({ fprocess: 'cat', OTEL_RESOURCE_ATTRIBUTES: 'team=a,service.name=my%20fn' }))).toBe(
      'my fn',
    );
    expect(serviceNameOf(ok({ fprocess: '/usr/bin/figlet -f small' }))).toBe('figlet');
    expect(serviceNameOf(ok({ fprocess: 'python3 -u index.py' }))).toBe('index');
    expect(serviceNameOf(ok({ fprocess: 'node' }))).toBe('node');
    expect(serviceNameOf(ok({ mode: 'static', static_path: '/tmp' }))).toBe('fwatchdog');
  });
});
