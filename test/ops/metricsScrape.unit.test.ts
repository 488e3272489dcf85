import { Gauge } from 'prom-client';
import { createLogger } from '../../src/infra/logger';
import { Metrics, type ScrapeCollector } from '../../src/infra/metrics/metrics';
import { parseMetrics, valueOf } from '../support/metricsText';

const logger = createLogger('silent');

/** A collector whose reads the test releases by hand, counting how many were started. */
function manualCollector(metrics: Metrics, name: string): ScrapeCollector & { reads: number; release(value: number): void } {
  const gauge = new Gauge({ name: `test_${name.replace(/-/g, '_')}`, help: 'test', labelNames: ['source'], registers: [metrics.registry] });
  const pending: Array<(value: number) => void> = [];
  const collector = {
    name,
    reads: 0,
    read() {
      collector.reads += 1;
      return new Promise<() => void>((resolve) => pending.push((value) => resolve(() => gauge.set({ source: name }, value))));
    },
    clear: () => gauge.reset(),
    release(value: number) {
      for (const resolve of pending.splice(0)) resolve(value);
    },
  };
  return collector;
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Metrics scrape', () => {
  it('when many scrapes arrive together and within the cache window, then the collectors read once', async () => {
    const metrics = new Metrics({ logger, cacheMs: 60_000, timeoutMs: 5000 });
    const collector = manualCollector(metrics, 'shared');
    metrics.addCollector(collector);
    const scrapes = Array.from({ length: 20 }, () => metrics.render());
    await settle();
    expect(collector.reads).toBe(1);
    collector.release(7);
    const texts = await Promise.all(scrapes);
    for (const text of texts) expect(valueOf(parseMetrics(text), 'test_shared')).toBe(7);
    await metrics.render();
    expect(collector.reads).toBe(1);
  });

  it('when the cache window has passed, then the next scrape reads again', async () => {
    const metrics = new Metrics({ logger, cacheMs: 0, timeoutMs: 5000 });
    const collector = manualCollector(metrics, 'fresh');
    metrics.addCollector(collector);
    const first = metrics.render();
    await settle();
    collector.release(1);
    await first;
    const second = metrics.render();
    await settle();
    collector.release(2);
    expect(valueOf(parseMetrics(await second), 'test_fresh')).toBe(2);
    expect(collector.reads).toBe(2);
  });

  it('when a collector does not answer within the timeout, then the scrape still answers, its series are gone and it is reported down; a late answer is ignored', async () => {
    const metrics = new Metrics({ logger, cacheMs: 0, timeoutMs: 50 });
    const slow = manualCollector(metrics, 'slow');
    const fast = manualCollector(metrics, 'fast');
    metrics.addCollector(slow);
    metrics.addCollector(fast);
    const first = metrics.render();
    await settle();
    slow.release(1);
    fast.release(1);
    await first;

    const second = metrics.render();
    await settle();
    fast.release(2);
    const samples = parseMetrics(await second);
    expect(valueOf(samples, 'test_slow')).toBeUndefined();
    expect(valueOf(samples, 'test_fast')).toBe(2);
    expect(valueOf(samples, 'order_ledger_scrape_collector_up', { collector: 'slow' })).toBe(0);
    expect(valueOf(samples, 'order_ledger_scrape_collector_up', { collector: 'fast' })).toBe(1);
    expect(valueOf(samples, 'order_ledger_scrape_collector_duration_seconds', { collector: 'slow' })).toBeGreaterThanOrEqual(0.04);

    slow.release(99);
    await settle();
    expect(valueOf(parseMetrics(await metrics.registry.metrics()), 'test_slow')).toBeUndefined();
  });

  it('when a collector fails, then the others are still reported', async () => {
    const metrics = new Metrics({ logger, cacheMs: 0 });
    metrics.addCollector({ name: 'broken', read: () => Promise.reject(new Error('database down')), clear: () => undefined });
    const fast = manualCollector(metrics, 'healthy');
    metrics.addCollector(fast);
    const scrape = metrics.render();
    await settle();
    fast.release(3);
    const samples = parseMetrics(await scrape);
    expect(valueOf(samples, 'test_healthy')).toBe(3);
    expect(valueOf(samples, 'order_ledger_scrape_collector_up', { collector: 'broken' })).toBe(0);
  });
});
