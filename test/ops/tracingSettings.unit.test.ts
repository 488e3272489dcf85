import { loadConfig, ConfigError } from '../../src/infra/config/config';
import { tracingRequested } from '../../src/infra/tracing/tracingSettings';

const requested = (env: Record<string, string>): boolean => tracingRequested(loadConfig(env));

describe('tracingRequested', () => {
  it('when no OTEL_* variable is set, then tracing is off', () => {
    expect(requested({})).toBe(false);
  });

  it('when an OTLP endpoint (base or traces) is set, then tracing is on', () => {
    expect(requested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(requested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
  });

  it('when a traces exporter is named, then it decides: none is off even with an endpoint', () => {
    expect(requested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(requested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(false);
    expect(requested({ OTEL_TRACES_EXPORTER: 'none, otlp' })).toBe(true);
  });

  it('when OTEL_SDK_DISABLED is true, then tracing is off whatever else is set', () => {
    expect(requested({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
  });

  it('when a variable is malformed, then the configuration names it', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318 ' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(ConfigError);
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/);
  });
});
