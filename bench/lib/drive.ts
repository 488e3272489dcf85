/**
 * Runs `op` from `concurrency` workers for `durationMs` and returns operations per second.
 * Bounded by time and by `maxOps`.
 */
export async function throughput(op: (worker: number, i: number) => Promise<void>, concurrency: number, durationMs: number, maxOps = 5_000_000): Promise<number> {
  let done = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; Date.now() < deadline && done < maxOps; i++) {
        await op(worker, i);
        done++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return done / seconds;
}
