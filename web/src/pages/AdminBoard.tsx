import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, messageOf } from '../api';
import { Hidden, Notice, PageTitle, StatusBadge, Time } from '../components';
import { formatMoney, shortId, statusTitle } from '../format';
import { applyPush, coalesced, fetchOrder, newer } from '../liveOrders';
import { onPush, onResume } from '../realtime';
import { links } from '../router';
import { BOARD_STATUSES, type Order, type OrderCreatedPayload, type Page } from '../types';

const PAGE_SIZE = 100;
/** After a 412 the read model may still be a moment behind the stream: a few bounded re-reads. */
const FRESH_READS = 5;
const FRESH_READ_PAUSE_MS = 200;

/** A card the board knows only from an orderCreated push: no revision yet, so no actions. */
type Card = Order & { partial?: true };

type Action = 'mark-paid' | 'processing' | 'shipped' | 'delivered' | 'cancel' | 'refund' | 'confirm-refund';

const actionLabel: Record<Action, string> = {
  'mark-paid': 'Mark paid',
  processing: 'Start processing',
  shipped: 'Mark shipped',
  delivered: 'Mark delivered',
  cancel: 'Cancel',
  refund: 'Refund',
  'confirm-refund': 'Confirm refund paid out',
};

const destructive: ReadonlySet<Action> = new Set(['cancel', 'refund']);

/** The actions that make sense from a card's state; the server still decides (409 otherwise). */
function actionsFor(order: Order): Action[] {
  const refundPending = order.paymentStatus === 'REFUND_PENDING';
  const confirm: Action[] = refundPending && order.paymentMethod === 'MANUAL' ? ['confirm-refund'] : [];
  switch (order.status) {
    case 'PENDING':
    case 'PAYMENT_FAILED':
      return order.paymentMethod === 'MANUAL' ? ['mark-paid', 'cancel'] : ['cancel'];
    case 'PAID':
      return refundPending ? confirm : ['processing', 'cancel', 'refund'];
    case 'PROCESSING':
      return refundPending ? confirm : ['shipped', 'refund'];
    case 'SHIPPED':
      return refundPending ? confirm : ['delivered', 'refund'];
    case 'DELIVERED':
      return refundPending ? confirm : ['refund'];
    case 'CANCELLED':
      return confirm;
    case 'REFUNDED':
      return [];
    default: {
      const exhaustive: never = order.status;
      return exhaustive;
    }
  }
}

function request(order: Order, action: Action): Promise<{ data: { order: Order } }> {
  // The revision the card shows: if the order moved since, the server answers 412 instead of acting.
  const headers = { 'If-Match': `"${order.revision}"` };
  const path = `/orders/${order.id}`;
  switch (action) {
    case 'mark-paid':
      return api('POST', `${path}/mark-paid`, { body: {}, headers });
    case 'processing':
      return api('PATCH', `${path}/status`, { body: { status: 'PROCESSING' }, headers });
    case 'shipped':
      return api('PATCH', `${path}/status`, { body: { status: 'SHIPPED' }, headers });
    case 'delivered':
      return api('PATCH', `${path}/status`, { body: { status: 'DELIVERED' }, headers });
    case 'cancel':
      return api('POST', `${path}/cancel`, { body: { reason: 'Cancelled from the order board' }, headers });
    case 'refund':
      return api('POST', `${path}/refund`, { body: { reason: 'Refunded from the order board' }, headers });
    case 'confirm-refund':
      return api('POST', `${path}/refund/confirm`, { headers });
    default: {
      const exhaustive: never = action;
      return exhaustive;
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function cardFromPush(push: OrderCreatedPayload): Card {
  return {
    id: push.orderId,
    userId: push.userId,
    status: push.status,
    items: [],
    totalAmount: push.totalAmount,
    currency: push.currency,
    paymentMethod: 'MANUAL',
    paymentStatus: 'PENDING',
    paymentProvider: null,
    paymentReference: null,
    refundedAmount: 0,
    revision: -1,
    position: push.position,
    placedAt: push.placedAt,
    updatedAt: push.placedAt,
    partial: true,
  };
}

function BoardCard({ card, busy, changed, onAct }: { card: Card; busy: boolean; changed: boolean; onAct: (card: Card, action: Action) => void }) {
  const short = shortId(card.id);
  return (
    <li>
      <article class={`card${changed ? ' card-changed' : ''}`} aria-labelledby={`card-${card.id}`}>
        <h3 id={`card-${card.id}`}>
          <a href={links.order(card.id)}>
            <Hidden>Order </Hidden>
            <code>{short}</code>
          </a>
        </h3>
        <p class="card-line">
          <StatusBadge status={card.status} />
          <span class="total">{formatMoney(card.totalAmount, card.currency)}</span>
        </p>
        <p class="muted small">
          {card.partial ? 'loading…' : `${card.paymentMethod.toLowerCase()} · rev ${card.revision}`} · <Time iso={card.placedAt} />
        </p>
        {card.shippingAddress && (
          <p class="small ship-to">
            Ships to {card.shippingAddress.name}, {card.shippingAddress.line1}, {card.shippingAddress.postalCode} {card.shippingAddress.city}, {card.shippingAddress.country}
          </p>
        )}
        {card.personalData === 'ERASED' && <p class="muted small ship-to">Personal data erased</p>}
        {!card.partial && (
          <div class="card-actions">
            {actionsFor(card).map((action) => (
              <button key={action} type="button" class={destructive.has(action) ? 'small danger' : 'small'} disabled={busy} onClick={() => onAct(card, action)}>
                {actionLabel[action]}
                <Hidden> order {short}</Hidden>
              </button>
            ))}
            <a class="small" href={links.timeline(card.id)}>
              Timeline<Hidden> of order {short}</Hidden>
            </a>
          </div>
        )}
      </article>
    </li>
  );
}

function AnnouncementBox() {
  const [text, setText] = useState('');
  const [result, setResult] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [sending, setSending] = useState(false);

  async function send(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    setSending(true);
    setResult(null);
    try {
      await api('POST', '/announcements', { body: { message: text } });
      setText('');
      setResult({ kind: 'success', text: 'Announcement sent to everyone connected.' });
    } catch (failure) {
      setResult({ kind: 'error', text: messageOf(failure) });
    } finally {
      setSending(false);
    }
  }

  return (
    <section class="panel announce" aria-labelledby="announce-title">
      <h2 id="announce-title">Announcement</h2>
      <form class="stack" onSubmit={(e) => void send(e)}>
        <div class="field">
          <label for="announcement-text">Message to everyone connected</label>
          <textarea id="announcement-text" rows={2} maxLength={1000} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </div>
        {result && <Notice kind={result.kind}>{result.text}</Notice>}
        <button type="submit" disabled={sending || text.trim().length === 0}>
          Send announcement
        </button>
      </form>
    </section>
  );
}

export function AdminBoard() {
  const [cards, setCards] = useState<Record<string, Card>>({});
  const [loaded, setLoaded] = useState(false);
  const [total, setTotal] = useState(0);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [conflict, setConflict] = useState<{ orderId: string; text: string } | null>(null);
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [said, setSaid] = useState('');
  const known = useRef<Record<string, Card>>({});
  known.current = cards;

  const merge = useCallback((orders: Order[]) => {
    setCards((current) => {
      const next = { ...current };
      for (const order of orders) next[order.id] = newer(current[order.id]?.partial ? undefined : current[order.id], order);
      return next;
    });
  }, []);

  const loadFirst = useCallback(async () => {
    try {
      const page = await api<Page<Order>>('GET', `/orders?limit=${PAGE_SIZE}`);
      merge(page.data);
      setTotal(page.meta.total);
      setCursor((current) => current ?? page.meta.nextCursor ?? null);
      setLoaded(true);
      setError(null);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, [merge]);

  async function loadMore(): Promise<void> {
    if (!cursor) return;
    try {
      const page = await api<Page<Order>>('GET', `/orders?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`);
      merge(page.data);
      setCursor(page.meta.nextCursor ?? null);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }

  useEffect(() => {
    void loadFirst();
    const refresh = coalesced(async (orderId, minPosition: string | undefined) => merge([await fetchOrder(orderId, minPosition)]));
    const offs = [
      onPush('orderCreated', (push) => {
        setSaid(`New order ${shortId(push.orderId)}, ${formatMoney(push.totalAmount, push.currency)}.`);
        setTotal((count) => count + (known.current[push.orderId] ? 0 : 1));
        setCards((current) => (current[push.orderId] ? current : { ...current, [push.orderId]: cardFromPush(push) }));
        refresh(push.orderId, push.position);
      }),
      onPush('orderUpdate', (push) => {
        setSaid(`Order ${shortId(push.orderId)} is now ${push.status}.`);
        setCards((current) => {
          const card = current[push.orderId];
          return card ? { ...current, [push.orderId]: applyPush(card, push) } : current;
        });
        refresh(push.orderId, push.position);
      }),
      onResume(() => void loadFirst()),
    ];
    return () => offs.forEach((off) => off());
  }, [loadFirst, merge]);

  /** Reads the order until the read model shows at least `revision` (bounded), then shows it. */
  async function showFresh(orderId: string, revision: number | undefined): Promise<Order | undefined> {
    let order: Order | undefined;
    for (let attempt = 0; attempt < FRESH_READS; attempt++) {
      order = await fetchOrder(orderId);
      if (revision === undefined || order.revision >= revision) break;
      await sleep(FRESH_READ_PAUSE_MS);
    }
    if (order) setCards((current) => ({ ...current, [orderId]: order }));
    return order;
  }

  async function act(card: Card, action: Action): Promise<void> {
    const short = shortId(card.id);
    if (destructive.has(action) && !window.confirm(`${actionLabel[action]} order ${short}? The customer is refunded if they paid.`)) return;
    setBusy((current) => new Set(current).add(card.id));
    setConflict(null);
    try {
      const answer = await request(card, action);
      merge([answer.data.order]);
      setSaid(`Order ${short}: ${actionLabel[action].toLowerCase()} done, now ${answer.data.order.status}.`);
    } catch (failure) {
      if (failure instanceof ApiError && (failure.status === 409 || failure.status === 412)) {
        const actual = (failure.details as { actual?: string } | undefined)?.actual;
        const fresh = await showFresh(card.id, actual !== undefined && /^\d+$/.test(actual) ? Number(actual) : undefined).catch(() => undefined);
        const now = fresh ? ` It is now ${fresh.status} at revision ${fresh.revision}.` : '';
        const text =
          failure.status === 412
            ? `Conflict: order ${short} changed since this board showed it (you acted on revision ${card.revision}); nothing was done.${now} The card shows the fresh state: check it, then act again.`
            : `Conflict: ${actionLabel[action].toLowerCase()} is not possible for order ${short}: ${failure.message}${now} The card shows the fresh state.`;
        setConflict({ orderId: card.id, text });
      } else {
        setError(`Order ${short}: ${messageOf(failure)}`);
      }
    } finally {
      setBusy((current) => {
        const next = new Set(current);
        next.delete(card.id);
        return next;
      });
    }
  }

  const byStatus = new Map(BOARD_STATUSES.map((status) => [status, [] as Card[]]));
  for (const card of Object.values(cards)) byStatus.get(card.status)?.push(card);
  for (const column of byStatus.values()) column.sort((a, b) => b.placedAt.localeCompare(a.placedAt));

  return (
    <>
      <PageTitle title="Order board">Order board</PageTitle>
      <p class="lede">
        Every order by status, updated live. Each action sends the revision its card shows (If-Match): if the order changed in the meantime, nothing happens and you get the fresh
        state.
      </p>
      <p class="sr-only" role="status">
        {said}
      </p>
      {conflict && (
        <Notice kind="conflict" onDismiss={() => setConflict(null)}>
          {conflict.text}
        </Notice>
      )}
      {error && (
        <Notice kind="error" onDismiss={() => setError(null)}>
          {error}
        </Notice>
      )}
      {!loaded && !error && <p>Loading orders…</p>}
      {loaded && (
        <p class="muted">
          Showing {Object.keys(cards).length} of {total} orders.{' '}
          {cursor && (
            <button type="button" class="small" onClick={() => void loadMore()}>
              Load older orders
            </button>
          )}
        </p>
      )}
      <div class="board">
        {BOARD_STATUSES.map((status) => {
          const column = byStatus.get(status) ?? [];
          return (
            <section key={status} class={`column column-${status.toLowerCase()}`} aria-labelledby={`column-${status}`}>
              <h2 id={`column-${status}`}>
                {statusTitle[status]} <span class="count">({column.length})</span>
              </h2>
              <ul>
                {column.map((card) => (
                  <BoardCard key={card.id} card={card} busy={busy.has(card.id)} changed={conflict?.orderId === card.id} onAct={(c, a) => void act(c, a)} />
                ))}
              </ul>
            </section>
          );
        })}
      </div>
      <AnnouncementBox />
    </>
  );
}
