// The ceilings of figure 4 that do real work (issue 19): Express 5 + pg, nothing else.
// - POST /orders: the minimal write — one transaction inserting one event row and upserting one
//   read-model row, answering 201 JSON. What an order costs when it is a single write.
// - GET /orders?page&limit: the same SQL as the app's listing (rows of the page + the user's count,
//   in parallel) on the same `orders` table, mapped to the same JSON shape.
// Both check the bearer token (HS256, same secret) as the app does; no logging, no validation
// library, no Redis. Tables of the write live beside the app's (minimal_*), created at start.
import express from 'express';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import pg from 'pg';

const secret = process.env.JWT_SECRET ?? '';
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_MAX ?? 20), application_name: 'bench-minimal' });

function userOf(req: express.Request): string | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith('Bearer ')) return undefined;
  try {
    const claims = jwt.verify(header.slice(7), secret, { algorithms: ['HS256'] }) as { sub?: string };
    return claims.sub;
  } catch {
    return undefined;
  }
}

interface Row {
  id: string;
  user_id: string;
  status: string;
  items: unknown;
  total_amount: string;
  currency: string;
  payment_method: string;
  payment_status: string;
  payment_provider: string | null;
  payment_reference: string | null;
  refunded_amount: string;
  stray_refunds_pending: number;
  stray_refunds_completed: number;
  revision: string;
  position: string;
  placed_at: Date;
  updated_at: Date;
}

const app = express();
app.disable('x-powered-by');
app.set('query parser', 'simple');
app.use(express.json({ limit: '100kb' }));
app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});

app.post('/orders', async (req, res) => {
  const userId = userOf(req);
  if (!userId) {
    res.status(401).json({ status: 'error' });
    return;
  }
  const body = req.body as { items?: { productId: string; quantity: number }[]; paymentMethod?: string };
  const orderId = randomUUID();
  const data = { orderId, userId, items: body.items ?? [], paymentMethod: body.paymentMethod ?? 'MANUAL' };
  const client = await pool.connect();
  try {
    await client.query('begin');
    const inserted = await client.query<{ position: string }>(
      `insert into minimal_events (event_id, stream_id, revision, type, data) values ($1, $2, 0, 'OrderPlaced', $3) returning position`,
      [randomUUID(), `order-${orderId}`, JSON.stringify(data)],
    );
    const position = inserted.rows[0]!.position;
    await client.query(
      `insert into minimal_orders (id, user_id, status, data, position, updated_at) values ($1, $2, 'PENDING', $3, $4, now())
       on conflict (id) do update set status = excluded.status, data = excluded.data, position = excluded.position, updated_at = excluded.updated_at`,
      [orderId, userId, JSON.stringify(data), position],
    );
    await client.query('commit');
    res.status(201).json({ status: 'success', data: { id: orderId, status: 'PENDING', position } });
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    res.status(500).json({ status: 'error', message: (error as Error).message });
  } finally {
    client.release();
  }
});

app.get('/orders', async (req, res) => {
  const userId = userOf(req);
  if (!userId) {
    res.status(401).json({ status: 'error' });
    return;
  }
  const page = Math.max(1, Number(req.query.page ?? 1) || 1);
  const limit = Math.min(100, Math.max(1, Number(req.query.limit ?? 10) || 10));
  const [rows, count] = await Promise.all([
    pool.query<Row>('select * from "orders" where "user_id" = $1 order by "placed_at" desc, "id" desc limit $2 offset $3', [userId, limit, (page - 1) * limit]),
    pool.query<{ count: string }>('select count(*) as "count" from "orders" where "user_id" = $1 limit $2', [userId, 1]),
  ]);
  res.json({
    status: 'success',
    data: rows.rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      status: row.status,
      items: row.items,
      totalAmount: Number(row.total_amount),
      currency: row.currency,
      paymentMethod: row.payment_method,
      paymentStatus: row.payment_status,
      paymentProvider: row.payment_provider,
      paymentReference: row.payment_reference,
      refundedAmount: Number(row.refunded_amount),
      strayRefunds: { pending: row.stray_refunds_pending, completed: row.stray_refunds_completed },
      revision: Number(row.revision),
      position: row.position,
      placedAt: row.placed_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    })),
    meta: { total: Number(count.rows[0]?.count ?? 0), page, limit, nextCursor: null },
  });
});

async function main(): Promise<void> {
  await pool.query(`
    create table if not exists minimal_events (
      position bigserial primary key, event_id uuid not null unique, stream_id text not null, revision bigint not null,
      type text not null, data jsonb not null, metadata jsonb not null default '{}', created_at timestamptz not null default now(),
      unique (stream_id, revision));
    create table if not exists minimal_orders (
      id uuid primary key, user_id uuid not null, status text not null, data jsonb not null, position bigint not null,
      updated_at timestamptz not null);
    create index if not exists minimal_orders_user on minimal_orders (user_id, updated_at desc);`);
  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
  const shutdown = (): void => {
    server.close(() => void pool.end().finally(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
