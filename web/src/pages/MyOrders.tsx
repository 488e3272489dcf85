import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { Notice, PageTitle, StatusBadge, Time } from '../components';
import { formatMoney, methodLabel, shortId } from '../format';
import { applyPush, coalesced } from '../liveOrders';
import { onPush, onResume } from '../realtime';
import { links } from '../router';
import { session } from '../session';
import { useStore } from '../store';
import type { Order, Page } from '../types';

const PAGE_SIZE = 20;

export function MyOrders() {
  const me = useStore(session);
  const admin = me?.user.role === 'admin';
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [total, setTotal] = useState(0);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [said, setSaid] = useState('');
  const shown = useRef<Order[] | null>(null);
  shown.current = orders;

  const loadFirst = useCallback(async (minPosition?: string) => {
    try {
      const wait = minPosition ? `&minPosition=${encodeURIComponent(minPosition)}` : '';
      const page = await api<Page<Order>>('GET', `/orders?limit=${PAGE_SIZE}${wait}`);
      setOrders(page.data);
      setTotal(page.meta.total);
      setCursor(page.meta.nextCursor ?? null);
      setError(null);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, []);

  async function loadMore(): Promise<void> {
    if (!cursor) return;
    try {
      const page = await api<Page<Order>>('GET', `/orders?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`);
      setOrders((current) => [...(current ?? []), ...page.data.filter((order) => !current?.some((known) => known.id === order.id))]);
      setCursor(page.meta.nextCursor ?? null);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }

  useEffect(() => {
    void loadFirst();
    const reload = coalesced((_key, minPosition: string | undefined) => loadFirst(minPosition));
    const offs = [
      onPush('orderUpdate', (push) => {
        setSaid(`Order ${shortId(push.orderId)} is now ${push.status}.`);
        // An order placed elsewhere (another tab) has to come from the read model.
        if (!shown.current?.some((order) => order.id === push.orderId)) reload('list', push.position);
        else setOrders((current) => current && current.map((order) => (order.id === push.orderId ? applyPush(order, push) : order)));
      }),
      onPush('orderCreated', (push) => reload('list', push.position)),
      onResume(() => reload('list', undefined)),
    ];
    return () => offs.forEach((off) => off());
  }, [loadFirst]);

  const title = admin ? 'All orders' : 'My orders';
  return (
    <>
      <PageTitle title={title}>{title}</PageTitle>
      <p class="sr-only" role="status">
        {said}
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      {orders === null && !error && <p>Loading orders…</p>}
      {orders !== null && orders.length === 0 && (
        <p>
          No orders yet. <a href={links.shop}>Visit the shop</a>.
        </p>
      )}
      {orders !== null && orders.length > 0 && (
        <div class="panel">
          <table class="orders">
            <caption>
              {orders.length} of {total} orders, newest first; statuses change live
            </caption>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Placed</th>
                <th scope="col" class="num">
                  Items
                </th>
                <th scope="col" class="num">
                  Total
                </th>
                <th scope="col">Payment</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {orders.map((order) => (
                <tr key={order.id}>
                  <th scope="row">
                    <a href={links.order(order.id)}>
                      <code>{shortId(order.id)}</code>
                    </a>
                  </th>
                  <td>
                    <Time iso={order.placedAt} />
                  </td>
                  <td class="num">{order.items.reduce((sum, item) => sum + item.quantity, 0)}</td>
                  <td class="num">{formatMoney(order.totalAmount, order.currency)}</td>
                  <td>{methodLabel[order.paymentMethod]}</td>
                  <td>
                    <StatusBadge status={order.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {cursor && (
            <button type="button" onClick={() => void loadMore()}>
              Load older orders
            </button>
          )}
        </div>
      )}
    </>
  );
}
