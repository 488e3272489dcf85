import { ConfigError, loadConfig } from '../../src/infra/config/config';

describe('operations configuration', () => {
  it('when OPS_PORT is unset, then it stays unset and the dashboard budget has its default', () => {
    const config = loadConfig({});
    expect(config.OPS_PORT).toBeUndefined();
    expect(config.OPS_HOST).toBeUndefined();
    expect(config.METRICS_TOKEN).toBeUndefined();
    expect(config.QUEUE_DASHBOARD_RATE_LIMIT_MAX).toBe(1000);
  });

  it('when an API process gives OPS_PORT the same port as PORT, then start-up stops naming OPS_PORT', () => {
    expect(() => loadConfig({ PORT: '4000', OPS_PORT: '4000' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '4000', OPS_PORT: '4000' })).toThrow(/OPS_PORT: OPS_PORT must differ from PORT/);
    // Without the api role nothing else listens on PORT.
    expect(loadConfig({ ROLES: 'worker', PORT: '4000', OPS_PORT: '4000' }).OPS_PORT).toBe(4000);
    expect(loadConfig({ PORT: '0', OPS_PORT: '0' }).OPS_PORT).toBe(0);
  });

  it('when METRICS_TOKEN is too short or OPS_PORT is not a port, then start-up stops naming the variable', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: METRICS_TOKEN must be at least 16 characters/);
    expect(() => loadConfig({ OPS_PORT: '70000' })).toThrow(/OPS_PORT/);
    expect(() => loadConfig({ OPS_PORT: 'metrics' })).toThrow(/OPS_PORT/);
  });
});
