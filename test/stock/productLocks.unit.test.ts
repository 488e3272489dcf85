import { ProductLocks } from '../../src/commands/stock/productLocks';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('product locks', () => {
  it('given two callers on the same product, when both run, then the second starts only after the first ends', async () => {
    const locks = new ProductLocks();
    const log: string[] = [];
    let finishFirst!: () => void;
    const first = locks.withLocks(['a'], async () => {
      log.push('first start');
      await new Promise<void>((resolve) => (finishFirst = resolve));
      log.push('first end');
    });
    const second = locks.withLocks(['a'], async () => {
      log.push('second start');
    });
    await tick();
    expect(log).toEqual(['first start']);
    finishFirst();
    await Promise.all([first, second]);
    expect(log).toEqual(['first start', 'first end', 'second start']);
  });

  it('given callers on different products, when both run, then neither waits for the other', async () => {
    const locks = new ProductLocks();
    let finishFirst!: () => void;
    const first = locks.withLocks(['a'], () => new Promise<void>((resolve) => (finishFirst = resolve)));
    await expect(locks.withLocks(['b'], async () => 'done')).resolves.toBe('done');
    finishFirst();
    await first;
  });

  it('given keys in opposite orders, when two callers overlap, then both finish (sorted order, no deadlock)', async () => {
    const locks = new ProductLocks();
    const results = await Promise.all([locks.withLocks(['b', 'a'], async () => 1), locks.withLocks(['a', 'b'], async () => 2)]);
    expect(results).toEqual([1, 2]);
  });

  it('given a full queue, when one more caller comes, then it goes ahead without waiting; and a failing caller frees its turn', async () => {
    const locks = new ProductLocks(1);
    let finishFirst!: () => void;
    const first = locks.withLocks(['a'], () => new Promise<void>((resolve) => (finishFirst = resolve)));
    await expect(locks.withLocks(['a'], async () => 'unqueued')).resolves.toBe('unqueued');
    finishFirst();
    await first;
    await expect(locks.withLocks(['a'], async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(locks.withLocks(['a'], async () => 'after')).resolves.toBe('after');
  });
});
