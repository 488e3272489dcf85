import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, messageOf } from '../api';
import { Notice, PageTitle, StatusBadge, Time } from '../components';
import { formatMoney, methodLabel, shortId } from '../format';
import { newer, useLiveOrder } from '../liveOrders';
import { approvalLinks, rememberApprovalLink } from '../payments';
import { onPush } from '../realtime';
import { links } from '../router';
import { session } from '../session';
import { useStore } from '../store';
import type { Order, OrderStatus } from '../types';

interface LiveEntry {
  key: string;
  from: OrderStatus | null;
  to: OrderStatus;
  at: string;
}

interface CommandAnswer {
  data: { order: Order; position: string; paymentUrl?: string };
}

const awaitingPayment = (order: Order): boolean => order.status === 'PENDING' || order.status === 'PAYMENT_FAILED';

export function OrderDetail({ id }: { id: string }) {
  const me = useStore(session);
  const [log, setLog] = useState<LiveEntry[]>([]);
  const [message, setMessage] = useState<{ kind: 'success' | 'error' | 'info' | 'conflict'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const { order, setOrder, error, recording, load } = useLiveOrder(id, (push) =>
    setLog((entries) => [...entries, { key: push.position, from: push.previousStatus, to: push.status, at: push.updatedAt }]),
  );
  const approvalLink = useStore(approvalLinks)[id];

  useEffect(() => {
    setLog([]);
    setMessage(null);
    const offs = [
      onPush('paymentSuccess', (push) => push.orderId === id && setMessage({ kind: 'success', text: `Payment of ${formatMoney(push.amount, push.currency)} received.` })),
      onPush('paymentFailed', (push) => push.orderId === id && setMessage({ kind: 'error', text: `The payment failed: ${push.message}. You can try again.` })),
    ];
    return () => offs.forEach((off) => off());
  }, [id]);

  async function command(run: () => Promise<CommandAnswer>, done: string): Promise<void> {
    setBusy(true);
    setMessage(null);
    try {
      const answer = await run();
      if (answer.data.paymentUrl) rememberApprovalLink(id, answer.data.paymentUrl);
      setOrder((current) => newer(current, answer.data.order));
      setMessage({ kind: 'success', text: done });
    } catch (failure) {
      const conflict = failure instanceof ApiError && (failure.status === 409 || failure.status === 412);
      setMessage({ kind: conflict ? 'conflict' : 'error', text: conflict ? `${failure.message} The page now shows the order as it is.` : messageOf(failure) });
      if (conflict) await load();
    } finally {
      setBusy(false);
    }
  }

  if (!order) {
    return (
      <>
        <PageTitle title={`Order ${shortId(id)}`}>
          Order <code>{shortId(id)}</code>
        </PageTitle>
        {error && <Notice kind="error">{error}</Notice>}
        {recording && <Notice kind="info">The order is still being recorded; this page fills in as soon as it is.</Notice>}
        {!error && !recording && <p>Loading the order…</p>}
      </>
    );
  }

  const mine = me?.user.id === order.userId;
  const ifMatch = { 'If-Match': `"${order.revision}"` };
  return (
    <>
      <p class="crumbs">
        <a href={me?.user.role === 'admin' && !mine ? links.board : links.orders}>{me?.user.role === 'admin' && !mine ? '← Order board' : '← My orders'}</a>
      </p>
      <PageTitle title={`Order ${shortId(id)}`}>
        Order <code>{shortId(id)}</code>
      </PageTitle>
      {message && (
        <Notice kind={message.kind} onDismiss={() => setMessage(null)}>
          {message.text}
        </Notice>
      )}
      {error && <Notice kind="error">{error}</Notice>}
      <div class="detail">
        <section class="panel" aria-labelledby="summary-title">
          <h2 id="summary-title">Summary</h2>
          <dl class="facts">
            <dt>Status</dt>
            <dd id="order-status">
              <StatusBadge status={order.status} />
            </dd>
            <dt>Total</dt>
            <dd>{formatMoney(order.totalAmount, order.currency)}</dd>
            <dt>Payment</dt>
            <dd>
              {methodLabel[order.paymentMethod]} · {order.paymentStatus.replace('_', ' ').toLowerCase()}
            </dd>
            <dt>Placed</dt>
            <dd>
              <Time iso={order.placedAt} />
            </dd>
            <dt>Last change</dt>
            <dd>
              <Time iso={order.updatedAt} />
            </dd>
            <dt>Revision</dt>
            <dd>{order.revision}</dd>
            <dt>Order id</dt>
            <dd>
              <code class="wrap">{order.id}</code>
            </dd>
          </dl>
          <p>
            <a href={links.timeline(order.id)}>Audit timeline of this order</a>
          </p>
        </section>
        <section class="panel" aria-labelledby="items-title">
          <h2 id="items-title">Items</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col" class="num">
                  Qty
                </th>
                <th scope="col" class="num">
                  Unit price
                </th>
                <th scope="col" class="num">
                  Amount
                </th>
              </tr>
            </thead>
            <tbody>
              {order.items.map((item) => (
                <tr key={item.productId}>
                  <td>{item.name}</td>
                  <td class="num">{item.quantity}</td>
                  <td class="num">{formatMoney(item.unitAmount, order.currency)}</td>
                  <td class="num">{formatMoney(item.lineAmount, order.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {mine && awaitingPayment(order) && (
            <div class="stack">
              {order.paymentMethod === 'MANUAL' && <p>Pay by bank transfer with the order id as reference; we confirm the payment here.</p>}
              {order.paymentMethod === 'STRIPE' && <p>Waiting for the card payment to be confirmed by Stripe. This page changes as soon as it is.</p>}
              {order.paymentMethod === 'PAYPAL' &&
                (approvalLink ? (
                  <>
                    <p>
                      <a class="button primary" href={approvalLink} target="_blank" rel="noopener noreferrer">
                        Approve the payment at PayPal<span class="sr-only"> (opens in a new tab)</span>
                      </a>
                    </p>
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() => void command(() => api('POST', '/payments/paypal/capture', { body: { orderId: order.id } }), 'PayPal payment completed.')}
                    >
                      I have approved it: complete the payment
                    </button>
                  </>
                ) : (
                  <button
                    type="button"
                    class="primary"
                    disabled={busy}
                    onClick={() => void command(() => api('POST', `/orders/${order.id}/pay`), 'PayPal payment started: approve it at PayPal.')}
                  >
                    Pay with PayPal
                  </button>
                ))}
              <button
                type="button"
                class="danger"
                disabled={busy}
                onClick={() => void command(() => api('POST', `/orders/${order.id}/cancel`, { body: {}, headers: ifMatch }), 'Order cancelled.')}
              >
                Cancel order
              </button>
            </div>
          )}
        </section>
        <section class="panel" aria-labelledby="live-title">
          <h2 id="live-title">Live updates</h2>
          <p class="muted">Status changes appear here as they happen, without reloading.</p>
          {log.length === 0 && <p>No change since this page opened.</p>}
          <ol class="live-log" aria-live="polite">
            {log.map((entry) => (
              <li key={entry.key}>
                <Time iso={entry.at} />: {entry.from ?? 'new'} → <strong>{entry.to}</strong>
              </li>
            ))}
          </ol>
        </section>
      </div>
    </>
  );
}
