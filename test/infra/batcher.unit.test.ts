import { Batcher } from '../../src/infra/batcher';

/** A batch function that records every batch it is called with. */
function recording<V>(answer: (keys: readonly number[]) => ReadonlyArray<V | Error>): {
  batches: number[][];
  load: (keys: readonly number[]) => Promise<ReadonlyArray<V | Error>>;
} {
  const batches: number[][] = [];
  return {
    batches,
    load: async (keys) => {
      batches.push([...keys]);
      return answer(keys);
    },
  };
}

describe('Batcher', () => {
  it('when keys are asked for together, then one call answers them all, each with its own value', async () => {
    const { batches, load } = recording((keys) => keys.map((k) => k * 10));
    const batcher = new Batcher(load, { windowMs: 5, maxBatchSize: 100 });
    expect(await Promise.all([1, 2, 3, 2].map((k) => batcher.get(k)))).toEqual([10, 20, 30, 20]);
    expect(batches).toEqual([[1, 2, 3, 2]]);
  });

  it('when more keys than the max batch size are asked for, then they go in batches of at most that size', async () => {
    const { batches, load } = recording((keys) => keys.map((k) => k));
    const batcher = new Batcher(load, { windowMs: 5, maxBatchSize: 100 });
    const keys = Array.from({ length: 250 }, (_, i) => i);
    expect(await Promise.all(keys.map((k) => batcher.get(k)))).toEqual(keys);
    expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
  });

  it('when keys are asked for after a batch went, then they form the next batch', async () => {
    const { batches, load } = recording((keys) => keys.map((k) => k));
    const batcher = new Batcher(load, { windowMs: 0, maxBatchSize: 100 });
    await Promise.all([batcher.get(1), batcher.get(2)]);
    await batcher.get(3);
    expect(batches).toEqual([[1, 2], [3]]);
  });

  it('when the answer for one key is an Error, then only that key fails', async () => {
    const { load } = recording((keys) => keys.map((k) => (k === 2 ? new Error('no 2') : k)));
    const batcher = new Batcher(load, { windowMs: 0, maxBatchSize: 100 });
    const settled = await Promise.allSettled([1, 2, 3].map((k) => batcher.get(k)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toEqual(new Error('no 2'));
  });

  it('when the batch function fails or answers the wrong number of keys, then every key of that batch fails with it', async () => {
    const failing = new Batcher<number, number>(
      async () => {
        throw new Error('database down');
      },
      { windowMs: 0, maxBatchSize: 100 },
    );
    const short = new Batcher<number, number>(async () => [1], { windowMs: 0, maxBatchSize: 100 });
    await expect(Promise.allSettled([failing.get(1), failing.get(2)])).resolves.toEqual([
      { status: 'rejected', reason: new Error('database down') },
      { status: 'rejected', reason: new Error('database down') },
    ]);
    await expect(Promise.all([short.get(1), short.get(2)])).rejects.toThrow('a batch of 2 keys was answered with 1 values');
  });

  it('when the window or size is out of bounds, then it refuses to be built', () => {
    const load = async (keys: readonly number[]): Promise<number[]> => [...keys];
    expect(() => new Batcher(load, { windowMs: -1, maxBatchSize: 10 })).toThrow(RangeError);
    expect(() => new Batcher(load, { windowMs: 5000, maxBatchSize: 10 })).toThrow(RangeError);
    expect(() => new Batcher(load, { windowMs: 5, maxBatchSize: 0 })).toThrow(RangeError);
  });
});
