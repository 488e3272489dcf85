/**
 * Collects the keys asked for within a short window and answers them with one call of `load`
 * (the DataLoader pattern, without its cache: what we batch — claims, marks, fresh reads — must
 * never be answered from memory).
 */
export interface BatcherOptions {
  /** How long the first key waits for others before the batch goes. */
  windowMs: number;
  /** A batch this full goes at once; a further key starts the next one. */
  maxBatchSize: number;
}

/**
 * Answers the keys in order: one value per key, or an Error failing that key alone. A rejection
 * fails every key of the batch.
 */
export type BatchLoad<K, V> = (keys: readonly K[]) => Promise<ReadonlyArray<V | Error>>;

interface Waiting<K, V> {
  key: K;
  resolve(value: V): void;
  reject(error: unknown): void;
}

export class Batcher<K, V> {
  private waiting: Array<Waiting<K, V>> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly load: BatchLoad<K, V>,
    private readonly options: BatcherOptions,
  ) {
    if (!(options.windowMs >= 0 && options.windowMs <= 1000)) throw new RangeError(`batch window ${options.windowMs} ms is not within 0..1000`);
    if (!(Number.isInteger(options.maxBatchSize) && options.maxBatchSize >= 1)) throw new RangeError(`max batch size ${options.maxBatchSize} is not a positive integer`);
  }

  get(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.waiting.push({ key, resolve, reject });
      if (this.waiting.length >= this.options.maxBatchSize) this.dispatch();
      else this.timer ??= setTimeout(() => this.dispatch(), this.options.windowMs);
    });
  }

  private dispatch(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting;
    this.waiting = [];
    void this.answer(batch);
  }

  private async answer(batch: Array<Waiting<K, V>>): Promise<void> {
    let results: ReadonlyArray<V | Error>;
    try {
      results = await this.load(batch.map((w) => w.key));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} keys was answered with ${results.length} values`);
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => {
      const result = results[i] as V | Error;
      if (result instanceof Error) w.reject(result);
      else w.resolve(result);
    });
  }
}
