/**
 * Rejects when `promise` has not settled within `ms` (the promise itself is left to finish or fail).
 * The bound is checked once more after the event loop's I/O phase: a process that was not scheduled
 * for a while runs its expired timers before the I/O that completed meanwhile, and must not report
 * as late an answer that is already there.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let late: NodeJS.Immediate | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          late = setImmediate(() => reject(new Error(`${what} did not finish within ${ms} ms`)));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (late) clearImmediate(late);
  }
}
