import pg from 'pg';
import type { Knex } from 'knex';
import type { Role } from '../http/authTokens';
import type { Logger } from '../logger';

/** The channel the 0005_auth_state triggers NOTIFY on, with the user id as payload. */
export const AUTH_CHANNEL = 'order_ledger_auth';

/** What decides, right now, whether a user's token still works and what it may do. */
export interface AccountState {
  id: string;
  email: string;
  role: Role;
  disabled: boolean;
  /** Tokens signed with another version were revoked ("revoke all"). */
  tokenVersion: number;
  /** Ids of single revoked tokens (logout) that have not expired yet. */
  revokedTokens: ReadonlySet<string>;
}

/** `'all'` after the listener reconnected: any change may have been missed. */
export type AuthChange = readonly string[] | 'all';

interface Entry {
  /** null: no such user. */
  state: AccountState | null;
  /** When the query that produced it was sent (not answered): the conservative age. */
  loadedAt: number;
}

interface Ticket {
  cancelled: boolean;
}

interface AccountRow {
  id: string;
  email: string;
  role: Role;
  disabled: boolean;
  token_version: number;
  revoked: string[];
}

// Users active within one TTL; past this, the oldest entries go first.
const MAX_ENTRIES = 100_000;
const BATCH = 1000;

export interface AuthStateOptions {
  knex: Knex;
  connectionString: string;
  /** How long a cached account may be used without a notification having dropped it. */
  ttlMs: number;
  logger: Logger;
}

/**
 * Accounts as this process last read them, kept fresh by LISTEN on AUTH_CHANNEL (the triggers of
 * 0005_auth_state notify every change, from any instance or the CLI) and, should a notification be
 * lost, by a TTL: an entry older than `ttlMs` is read again before it is used. A request costs a
 * map look-up in the steady state; an active user costs one query per TTL at most.
 */
export class AuthState {
  private readonly entries = new Map<string, Entry>();
  /** Single flight: concurrent misses for one user share one query. */
  private readonly pending = new Map<string, Promise<AccountState | null>>();
  /** Loads in flight per user; an invalidation cancels their right to fill the cache. */
  private readonly inflight = new Map<string, Set<Ticket>>();
  private readonly listeners = new Set<(change: AuthChange) => void>();
  private listener: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly pruneTimer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: AuthStateOptions) {
    this.pruneTimer = setInterval(() => this.prune(), Math.max(1000, options.ttlMs));
    this.pruneTimer.unref();
  }

  async start(): Promise<void> {
    await this.connectListener(false);
  }

  /**
   * The account now (cached, refreshed when older than the TTL, or read before `notBefore` in ms);
   * undefined when the user does not exist.
   */
  async get(userId: string, notBefore = 0): Promise<AccountState | undefined> {
    const entry = this.entries.get(userId);
    const now = Date.now();
    if (entry && now - entry.loadedAt < this.options.ttlMs && entry.loadedAt >= notBefore) {
      // Past half its life, refresh in the background so active users never wait for the query.
      if (now - entry.loadedAt > this.options.ttlMs / 2 && !this.pending.has(userId)) void this.loadOne(userId).catch(() => undefined);
      return entry.state ?? undefined;
    }
    return (await this.loadOne(userId)) ?? undefined;
  }

  /** Reads these accounts now, bypassing the cache (one query per thousand), and caches them. */
  async refresh(userIds: readonly string[]): Promise<Map<string, AccountState | undefined>> {
    const result = new Map<string, AccountState | undefined>();
    const unique = [...new Set(userIds)];
    for (let start = 0; start < unique.length; start += BATCH) {
      const loaded = await this.load(unique.slice(start, start + BATCH));
      for (const [id, state] of loaded) result.set(id, state ?? undefined);
    }
    return result;
  }

  /** Drops what is known of the user (a change was made or announced) and tells the listeners. */
  invalidate(userIds: readonly string[]): void {
    for (const id of userIds) {
      this.entries.delete(id);
      this.pending.delete(id);
      for (const ticket of this.inflight.get(id) ?? []) ticket.cancelled = true;
    }
    this.emit(userIds);
  }

  /** Called after every invalidation: with the user ids, or 'all' after a reconnect of the listener. */
  onChange(listener: (change: AuthChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruneTimer);
    clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private loadOne(userId: string): Promise<AccountState | null> {
    const existing = this.pending.get(userId);
    if (existing) return existing;
    const loading = this.load([userId]).then((states) => states.get(userId) ?? null);
    this.pending.set(userId, loading);
    const done = (): void => {
      if (this.pending.get(userId) === loading) this.pending.delete(userId);
    };
    loading.then(done, done);
    return loading;
  }

  private async load(userIds: readonly string[]): Promise<Map<string, AccountState | null>> {
    const loadedAt = Date.now();
    const tickets = new Map<string, Ticket>();
    for (const id of userIds) {
      const ticket: Ticket = { cancelled: false };
      tickets.set(id, ticket);
      const set = this.inflight.get(id) ?? new Set<Ticket>();
      set.add(ticket);
      this.inflight.set(id, set);
    }
    try {
      const { knex } = this.options;
      const rows = (await knex('users as u')
        .select(
          'u.id',
          'u.email',
          'u.role',
          knex.raw('u.disabled_at is not null as disabled'),
          'u.token_version',
          knex.raw('array(select r.jti from revoked_tokens r where r.user_id = u.id and r.expires_at > now()) as revoked'),
        )
        .whereIn('u.id', [...userIds])) as AccountRow[];
      const byId = new Map(rows.map((row) => [row.id, row]));
      const result = new Map<string, AccountState | null>();
      for (const id of userIds) {
        const row = byId.get(id);
        const state: AccountState | null = row
          ? { id: row.id, email: row.email, role: row.role, disabled: row.disabled, tokenVersion: row.token_version, revokedTokens: new Set(row.revoked) }
          : null;
        result.set(id, state);
        // A change announced while the query ran may not be in its answer: use it, but do not keep it.
        if (!tickets.get(id)!.cancelled) this.store(id, { state, loadedAt });
      }
      return result;
    } finally {
      for (const [id, ticket] of tickets) {
        const set = this.inflight.get(id);
        set?.delete(ticket);
        if (set?.size === 0) this.inflight.delete(id);
      }
    }
  }

  private store(userId: string, entry: Entry): void {
    this.entries.delete(userId); // re-inserted last: the map stays ordered by age
    this.entries.set(userId, entry);
    if (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  private prune(): void {
    const cutoff = Date.now() - this.options.ttlMs;
    for (const [id, entry] of this.entries) {
      if (entry.loadedAt >= cutoff) break;
      this.entries.delete(id);
    }
  }

  private emit(change: AuthChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.options.logger.error({ err: error }, 'auth change listener failed');
      }
    }
  }

  private clearAll(): void {
    this.entries.clear();
    this.pending.clear();
    for (const tickets of this.inflight.values()) for (const ticket of tickets) ticket.cancelled = true;
    this.emit('all');
  }

  private async connectListener(reconnecting: boolean): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: 5000,
      application_name: 'order-ledger-auth-listener',
      // A connection that died silently is noticed within a minute or so instead of the OS's hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    let lost = false;
    const onLost = (error?: Error): void => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.options.logger.warn({ err: error?.message }, 'auth listener lost; cached accounts expire by TTL until it is back');
      this.scheduleReconnect();
    };
    client.on('notification', (message) => {
      if (message.channel === AUTH_CHANNEL && message.payload) this.invalidate([message.payload]);
    });
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.connect();
      await client.query(`listen ${AUTH_CHANNEL}`);
    } catch (error) {
      onLost(error as Error);
      if (reconnecting) return;
      // At start-up the caller fails instead.
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    // Whatever changed while nobody listened is unknown: start over.
    if (reconnecting) this.clearAll();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connectListener(true);
    }, 1000);
    this.reconnectTimer.unref();
  }
}
