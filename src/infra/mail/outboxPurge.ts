import { readdir, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Deletes the .eml files written for these events (`<time>-<eventId>.eml`, see mailer.ts): the outbox
 * folder is a copy of personal data we hold. Bounded by the folder's listing; returns how many went.
 */
export async function purgeOutboxFiles(dir: string, eventIds: ReadonlySet<string>): Promise<number> {
  let names: string[];
  try {
    names = await readdir(path.resolve(dir));
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  for (const name of names) {
    const match = /-([0-9a-f-]{36})\.eml$/.exec(name);
    if (!match || !eventIds.has(match[1]!)) continue;
    await unlink(path.join(path.resolve(dir), name)).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    });
    removed++;
  }
  return removed;
}
