import pg from 'pg';
import type { Knex } from 'knex';
import { UnavailableError } from '../errors';
import { PROJECTED_CHANNEL, projectedPosition } from '../projections/projector';
import type { Logger } from '../infra/logger';

export class ConsistencyTimeoutError extends UnavailableError {
  constructor(position: bigint, reached: bigint, waitedMs: number) {
    super('CONSISTENCY_TIMEOUT', `Read model has not reached position ${position} after ${waitedMs} ms (at ${reached}); retry shortly`, {
      position: position.toString(),
      reached: reached.toString(),
    });
  }
}

interface Waiter {
  position: bigint;
  resolve: () => void;
}

/**
 * Lets a query wait, bounded, until the read models reach a position. The projector NOTIFYs after
 * each committed batch; a slow poll covers a missed notification.
 */
export class ProjectionWaiter {
  private reached = -1n;
  private readonly waiters = new Set<Waiter>();
  private listener: pg.Client | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly knex: Knex,
    private readonly connectionString: string,
    private readonly projectionNames: readonly string[],
    private readonly logger?: Logger,
    private readonly pollIntervalMs = 100,
  ) {}

  async start(): Promise<void> {
    await this.connectListener();
    await this.refresh();
  }

  get position(): bigint {
    return this.reached;
  }

  async current(): Promise<bigint> {
    await this.refresh();
    return this.reached;
  }

  async waitFor(position: bigint, timeoutMs: number): Promise<void> {
    if (position <= this.reached) return;
    // While the listener is up, every committed batch arrives as a notification: asking the
    // database first would cost a query per command (POST /orders always waits) for nothing.
    if (!this.listener || timeoutMs <= 0) {
      await this.refresh();
      if (position <= this.reached) return;
    }
    if (timeoutMs <= 0) throw new ConsistencyTimeoutError(position, this.reached, 0);
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        position,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new ConsistencyTimeoutError(position, this.reached, Date.now() - started));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.schedulePoll();
    });
  }

  /**
   * The read models of this process's projector have committed `position` (every checkpoint moved
   * there): waiters here need not wait for the notification's round trip through PostgreSQL.
   */
  projected(position: bigint): void {
    this.advance(position);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private advance(position: bigint): void {
    if (position <= this.reached) return;
    this.reached = position;
    for (const waiter of [...this.waiters]) if (waiter.position <= position) waiter.resolve();
  }

  private async refresh(): Promise<void> {
    this.advance(await projectedPosition(this.knex, this.projectionNames));
  }

  private schedulePoll(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      if (this.waiters.size === 0 || this.closed) return;
      this.refresh()
        .catch((error: unknown) => this.logger?.warn({ err: error }, 'could not read projection checkpoints'))
        .finally(() => this.schedulePoll());
    }, this.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Tries the listener again in a second, and again after each failure, until it is back or the waiter closes. */
  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    // Cleared by close(): a reconnect must not outlive the waiter.
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.connectListener().catch(() => this.scheduleReconnect());
    }, 1000);
    this.reconnectTimer.unref();
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, connectionTimeoutMillis: 5000, application_name: 'order-ledger-waiter' });
    client.on('notification', (message) => {
      if (message.payload) this.advance(BigInt(message.payload));
    });
    client.on('error', (error) => {
      this.logger?.warn({ err: error }, 'projection listener lost; relying on polling');
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`listen ${PROJECTED_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.listener = client;
  }
}
