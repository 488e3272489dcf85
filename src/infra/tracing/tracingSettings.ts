import type { Config } from '../config/config';

export type TracingSettings = Pick<Config, 'OTEL_SDK_DISABLED' | 'OTEL_TRACES_EXPORTER' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>;

/**
 * Whether this process traces, from the standard OpenTelemetry variables: on when a traces exporter
 * other than `none` or an OTLP endpoint is named, and OTEL_SDK_DISABLED is not true. Loads no
 * OpenTelemetry code, so the entry points decide before anything instrumented is required.
 */
export function tracingRequested(config: TracingSettings): boolean {
  if (config.OTEL_SDK_DISABLED) return false;
  const exporters = (config.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (exporters.length > 0) return exporters.some((name) => name !== 'none');
  return config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
}
