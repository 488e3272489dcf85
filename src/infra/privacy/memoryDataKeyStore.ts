import { randomBytes } from 'node:crypto';
import { DataKeyDestroyedError, type DataKeyStore } from './dataKeyStore';
import { KEY_BYTES } from './sealing';

/** Data keys in memory, for the in-memory event store's fast API tests (no PostgreSQL). */
export class InMemoryDataKeyStore implements DataKeyStore {
  private readonly keys = new Map<string, Buffer | null>();

  keyFor(userId: string): Promise<Buffer> {
    const key = this.keys.get(userId);
    if (key === null) return Promise.reject(new DataKeyDestroyedError(userId));
    if (key) return Promise.resolve(key);
    const created = randomBytes(KEY_BYTES);
    this.keys.set(userId, created);
    return Promise.resolve(created);
  }

  existingKeys(userIds: readonly string[]): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    for (const id of userIds) {
      const key = this.keys.get(id);
      if (key) found.set(id, key);
    }
    return Promise.resolve(found);
  }

  destroy(userId: string): Promise<void> {
    this.keys.set(userId, null);
    return Promise.resolve();
  }

  rewrapAll(): Promise<{ rewrapped: number; total: number }> {
    return Promise.resolve({ rewrapped: 0, total: [...this.keys.values()].filter(Boolean).length });
  }
}
