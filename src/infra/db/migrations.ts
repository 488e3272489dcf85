import type { Knex } from 'knex';
import { appendFunctionSql, appendStreamsFunctionSql } from '../eventstore/postgresSchema';
import { placementFunctionSql } from './placementFunction';

interface Migration {
  name: string;
  up: (knex: Knex) => Promise<void>;
  down: (knex: Knex) => Promise<void>;
}

/**
 * Migrations live in code so the compiled server, the CLI and the tests apply the same list
 * without a file-system loader. Append new ones; never edit one that has shipped.
 */
const migrations: Migration[] = [
  {
    name: '0001_event_store',
    async up(knex) {
      await knex.raw(`
        create table if not exists streams (
          stream_id text primary key,
          revision bigint not null
        );
        -- position = (transaction id << 20) | index within the append: ordered like the
        -- committing transactions' ids, so readers can stop below the oldest in-flight one.
        create table if not exists events (
          position bigint primary key,
          event_id uuid not null unique,
          stream_id text not null,
          revision bigint not null,
          type text not null,
          data jsonb not null,
          metadata jsonb not null default '{}'::jsonb,
          created_at timestamptz not null default now(),
          unique (stream_id, revision)
        );
      `);
      await knex.raw(appendFunctionSql);
    },
    async down(knex) {
      await knex.raw('drop function if exists order_ledger_append; drop table if exists events; drop table if exists streams;');
    },
  },
  {
    name: '0002_read_models',
    async up(knex) {
      await knex.raw(`
        create table if not exists projection_checkpoints (
          name text primary key,
          position bigint not null,
          updated_at timestamptz not null default now()
        );
        create table if not exists orders (
          id uuid primary key,
          user_id uuid not null,
          status text not null,
          items jsonb not null,
          total_amount bigint not null,
          currency char(3) not null,
          payment_method text not null,
          payment_status text not null,
          payment_provider text,
          payment_reference text,
          refunded_amount bigint not null default 0,
          revision bigint not null,
          position bigint not null,
          placed_at timestamptz not null,
          updated_at timestamptz not null
        );
        create index if not exists orders_placed_idx on orders (placed_at desc, id desc);
        create index if not exists orders_user_placed_idx on orders (user_id, placed_at desc, id desc);
        create index if not exists orders_status_placed_idx on orders (status, placed_at desc, id desc);
        create index if not exists orders_user_status_placed_idx on orders (user_id, status, placed_at desc, id desc);
        create table if not exists order_history (
          order_id uuid not null,
          revision bigint not null,
          position bigint not null,
          event_type text not null,
          from_status text,
          to_status text not null,
          actor_type text not null,
          actor_id text,
          detail jsonb not null default '{}'::jsonb,
          occurred_at timestamptz not null,
          primary key (order_id, revision)
        );
      `);
    },
    async down(knex) {
      await knex.raw('drop table if exists order_history; drop table if exists orders; drop table if exists projection_checkpoints;');
    },
  },
  {
    name: '0003_users_products',
    async up(knex) {
      await knex.raw(`
        create table if not exists users (
          id uuid primary key,
          email text not null,
          password_hash text not null,
          role text not null check (role in ('user', 'admin')),
          created_at timestamptz not null default now()
        );
        create unique index if not exists users_email_lower_idx on users (lower(email));
        create table if not exists products (
          id uuid primary key,
          sku text not null unique,
          name text not null,
          unit_amount bigint not null check (unit_amount >= 0),
          currency char(3) not null,
          active boolean not null default true,
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now()
        );
        create index if not exists products_created_idx on products (created_at desc, id desc);
        create table if not exists idempotency_keys (
          user_id uuid not null,
          key text not null,
          request_hash text not null,
          order_id uuid not null,
          created_at timestamptz not null default now(),
          primary key (user_id, key)
        );
      `);
    },
    async down(knex) {
      await knex.raw('drop table if exists idempotency_keys; drop table if exists products; drop table if exists users;');
    },
  },
  {
    // One row per email the worker claimed, keyed by the event that caused it: a re-delivered
    // event finds its claim and sends nothing, even after BullMQ has forgotten the job.
    name: '0004_email_sends',
    async up(knex) {
      await knex.raw(`
        create table if not exists email_sends (
          event_id uuid primary key,
          order_id uuid not null,
          template text not null,
          claimed_at timestamptz not null default now(),
          sent_at timestamptz,
          message_id text
        );
        create index if not exists email_sends_order_idx on email_sends (order_id);
        -- The notifier starts after the events that exist when it is deployed: history is not re-announced.
        insert into projection_checkpoints (name, position)
          select 'notifier', coalesce(max(position), -1) from events
          on conflict (name) do nothing;
      `);
    },
    async down(knex) {
      await knex.raw("drop table if exists email_sends; delete from projection_checkpoints where name = 'notifier';");
    },
  },
  {
    // What a token may do is decided by the account as it is now: role, disabled, the version that
    // "revoke all" bumps, and single revoked tokens. Every change NOTIFYs the user id, whoever makes
    // it (API, CLI, a manual UPDATE), so each API instance drops its cached copy at once.
    name: '0005_auth_state',
    async up(knex) {
      await knex.raw(`
        alter table users
          add column if not exists disabled_at timestamptz,
          add column if not exists token_version integer not null default 0;
        create table if not exists revoked_tokens (
          jti text primary key,
          user_id uuid not null references users (id) on delete cascade,
          expires_at timestamptz not null,
          revoked_at timestamptz not null default now()
        );
        create index if not exists revoked_tokens_user_idx on revoked_tokens (user_id, expires_at);
        create index if not exists revoked_tokens_expires_idx on revoked_tokens (expires_at);

        create or replace function order_ledger_user_auth_changed() returns trigger language plpgsql as $$
        begin
          if tg_op = 'DELETE' then
            perform pg_notify('order_ledger_auth', old.id::text);
          else
            perform pg_notify('order_ledger_auth', new.id::text);
          end if;
          return null;
        end $$;
        drop trigger if exists users_auth_changed on users;
        create trigger users_auth_changed after update of email, role, disabled_at, token_version or delete on users
          for each row execute function order_ledger_user_auth_changed();

        create or replace function order_ledger_token_revoked() returns trigger language plpgsql as $$
        begin
          perform pg_notify('order_ledger_auth', new.user_id::text);
          return null;
        end $$;
        drop trigger if exists revoked_tokens_notify on revoked_tokens;
        create trigger revoked_tokens_notify after insert on revoked_tokens
          for each row execute function order_ledger_token_revoked();
      `);
    },
    async down(knex) {
      await knex.raw(`
        drop trigger if exists users_auth_changed on users;
        drop function if exists order_ledger_user_auth_changed();
        drop table if exists revoked_tokens;
        drop function if exists order_ledger_token_revoked();
        alter table users drop column if exists disabled_at, drop column if exists token_version;
      `);
    },
  },
  {
    // email_sends becomes the email outbox: the notifier writes a row per emailing event in the
    // transaction that moves its checkpoint (claimed_at null until a worker claims it), so an email
    // whose job Redis lost is found in PostgreSQL and queued again. Pending: neither sent nor skipped.
    name: '0006_email_outbox',
    async up(knex) {
      await knex.raw(`
        alter table email_sends
          alter column claimed_at drop not null,
          alter column claimed_at drop default,
          add column if not exists recorded_at timestamptz not null default now(),
          add column if not exists skipped_reason text;
        create index if not exists email_sends_pending_idx on email_sends (event_id) where sent_at is null and skipped_reason is null;
      `);
    },
    async down(knex) {
      await knex.raw(`
        drop index if exists email_sends_pending_idx;
        update email_sends set claimed_at = recorded_at where claimed_at is null;
        alter table email_sends
          alter column claimed_at set default now(),
          alter column claimed_at set not null,
          drop column if exists skipped_reason,
          drop column if exists recorded_at;
      `);
    },
  },
  {
    // Refunds of payments an order never counted (wrong amount, duplicate, late) are counted apart
    // from the order's own payment status, so their completion shows.
    name: '0007_stray_refunds',
    async up(knex) {
      await knex.raw(`
        alter table orders
          add column if not exists stray_refunds_pending integer not null default 0,
          add column if not exists stray_refunds_completed integer not null default 0;
      `);
    },
    async down(knex) {
      await knex.raw('alter table orders drop column if exists stray_refunds_pending, drop column if exists stray_refunds_completed;');
    },
  },
  {
    // appendToStreams: atomic appends to several streams (stock reserved with the order placing it).
    name: '0008_append_to_streams',
    async up(knex) {
      await knex.raw(appendStreamsFunctionSql());
    },
    async down(knex) {
      await knex.raw('drop function if exists order_ledger_append_streams;');
    },
  },
  {
    // Personal data (issue 18): per-customer data keys wrapped by the master key, the orders' sealed
    // personal data (never clear text), the profile's default address, and erased accounts.
    name: '0009_personal_data',
    async up(knex) {
      await knex.raw(`
        create table if not exists customer_data_keys (
          user_id uuid primary key,
          wrapped_key bytea,
          master_key_id text,
          created_at timestamptz not null default now(),
          rewrapped_at timestamptz,
          destroyed_at timestamptz,
          check ((wrapped_key is null) = (destroyed_at is not null))
        );
        alter table orders
          add column if not exists personal_data text,
          add column if not exists personal_data_erased boolean not null default false;
        alter table users
          add column if not exists default_shipping_address text,
          add column if not exists erased_at timestamptz;
      `);
    },
    async down(knex) {
      await knex.raw(`
        alter table users drop column if exists default_shipping_address, drop column if exists erased_at;
        alter table orders drop column if exists personal_data, drop column if exists personal_data_erased;
        drop table if exists customer_data_keys;
      `);
    },
  },
  {
    // Stock per tracked product, projected from the stock-<productId> streams; no row = untracked (unlimited).
    name: '0010_stock',
    async up(knex) {
      await knex.raw(`
        create table if not exists product_stock (
          product_id uuid primary key,
          on_hand bigint not null,
          reserved bigint not null,
          revision bigint not null,
          position bigint not null,
          updated_at timestamptz not null
        );
        -- Orders awaiting payment, kept by the expiry reactor from $all: its work list, not a read model.
        create table if not exists order_payment_deadlines (
          order_id uuid primary key,
          placed_at timestamptz not null
        );
        create index if not exists order_payment_deadlines_placed_at on order_payment_deadlines (placed_at);
      `);
    },
    async down(knex) {
      await knex.raw('drop table if exists product_stock; drop table if exists order_payment_deadlines;');
    },
  },
  {
    // Partial refunds (and the refunds of returns) and returns, listed on the order.
    name: '0011_order_refunds_returns',
    async up(knex) {
      await knex.raw(`
        alter table orders
          add column if not exists refunds jsonb not null default '[]'::jsonb,
          add column if not exists returns jsonb not null default '[]'::jsonb;
      `);
    },
    async down(knex) {
      await knex.raw('alter table orders drop column if exists refunds, drop column if exists returns;');
    },
  },
  {
    // Snapshots of folded streams (stock): a cache the stream checks, see src/infra/eventstore/snapshotStore.ts.
    name: '0012_stream_snapshots',
    async up(knex) {
      await knex.raw(`
        create table if not exists stream_snapshots (
          stream_id text not null,
          schema text not null,
          revision bigint not null,
          event_id uuid not null,
          state jsonb not null,
          saved_at timestamptz not null,
          primary key (stream_id, schema)
        );
      `);
    },
    async down(knex) {
      await knex.raw('drop table if exists stream_snapshots;');
    },
  },
  {
    // Placement's read as a function whose plan is planned once per connection (placementFunction.ts).
    name: '0013_placement_function',
    async up(knex) {
      await knex.raw(placementFunctionSql);
    },
    async down(knex) {
      await knex.raw('drop function if exists order_ledger_placement;');
    },
  },
];

class CodeMigrationSource implements Knex.MigrationSource<Migration> {
  getMigrations(): Promise<Migration[]> {
    return Promise.resolve(migrations);
  }
  getMigrationName(migration: Migration): string {
    return migration.name;
  }
  getMigration(migration: Migration): Promise<Knex.Migration> {
    return Promise.resolve({ up: migration.up, down: migration.down });
  }
}

export async function migrateToLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest({ migrationSource: new CodeMigrationSource() })) as [number, string[]];
  return applied;
}

export async function pendingMigrations(knex: Knex): Promise<string[]> {
  // knex's list would create its bookkeeping tables; a check must not write.
  if (!(await knex.schema.hasTable('knex_migrations'))) return migrations.map((m) => m.name);
  const [, pending] = (await knex.migrate.list({ migrationSource: new CodeMigrationSource() })) as [unknown, Migration[]];
  return pending.map((m) => m.name);
}
