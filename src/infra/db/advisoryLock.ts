import pg from 'pg';

/**
 * A session-level PostgreSQL advisory lock held on its own connection, so one instance of a
 * singleton role (projector, notifier) runs per deployment. Losing the connection loses the lock:
 * `onLost` tells the holder to stop.
 */
export class AdvisoryLock {
  private client: pg.Client | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly key: string,
  ) {}

  async tryAcquire(onLost: (error: Error) => void): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.connectionString, connectionTimeoutMillis: 5000, application_name: `order-ledger-lock:${this.key}` });
    await client.connect();
    const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as locked', [this.key]);
    if (!result.rows[0]?.locked) {
      await client.end();
      return false;
    }
    client.on('error', (error) => {
      if (this.client === client) this.client = undefined;
      onLost(error);
    });
    this.client = client;
    return true;
  }

  get held(): boolean {
    return this.client !== undefined;
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [this.key]);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
