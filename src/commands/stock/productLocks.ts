/**
 * In-process turns per tracked product for placing orders. Buyers of one product in the same API
 * process take turns instead of racing for its stock stream: a race costs every loser a read, a
 * decision and a refused append, so under contention most work is wasted. Correctness never
 * depends on it (the stream's expected revision does): another process still races, and a buyer
 * that finds the queue full goes ahead without waiting.
 */
export class ProductLocks {
  private readonly tails = new Map<string, { tail: Promise<void>; waiting: number }>();

  constructor(private readonly maxWaiting = 512) {}

  /** Runs `work` once it holds every key (taken in sorted order, so two callers cannot deadlock). */
  async withLocks<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const releases: Array<() => void> = [];
    try {
      for (const key of sorted) {
        const release = await this.acquire(key);
        if (release) releases.push(release);
      }
      return await work();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  private async acquire(key: string): Promise<(() => void) | undefined> {
    const entry = this.tails.get(key) ?? { tail: Promise.resolve(), waiting: 0 };
    if (entry.waiting >= this.maxWaiting) return undefined;
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = entry.tail;
    entry.tail = previous.then(() => turn);
    entry.waiting += 1;
    this.tails.set(key, entry);
    await previous;
    return () => {
      entry.waiting -= 1;
      if (entry.waiting === 0 && this.tails.get(key) === entry) this.tails.delete(key);
      release();
    };
  }
}
