import { randomUUID } from 'node:crypto';
import { decodeOrderRecords, loadOrder } from '../../src/commands/order/orderStream';
import { decodeOrderEvent, encodeOrderEvent, orderStreamId } from '../../src/events/codec';
import { InMemoryEventStore } from '../../src/infra/eventstore/memoryEventStore';
import { orderRowFromEvents } from '../../src/projections/ordersProjection';
import { anOrder, orderPlaced, paidOrder, paymentFailed, paymentInitiated } from '../support/orderEvents';

/** A RefundRequested as versions 1 and 2 wrote it: no `stray` flag. */
function legacyRefund(orderId: string, version: 1 | 2, fields: { providerReference?: string; amount: number; reason: string }) {
  return {
    id: randomUUID(),
    type: 'RefundRequested',
    data: {
      orderId,
      provider: 'STRIPE',
      ...(fields.providerReference ? { providerReference: fields.providerReference } : {}),
      amount: fields.amount,
      currency: 'USD',
      reason: fields.reason,
      requestedAt: '2026-01-02T00:00:00.000Z',
    },
    metadata: { schemaVersion: version },
  };
}

async function given(store: InMemoryEventStore, orderId: string, events: ReturnType<typeof paidOrder>, legacy: ReturnType<typeof legacyRefund>): Promise<void> {
  await store.appendToStream(orderStreamId(orderId), [...events.map((e) => encodeOrderEvent(e, randomUUID())), legacy], { expectedRevision: 'no_stream' });
}

describe('refund scope of requests stored before the stray flag', () => {
  it('when a v2 request gave back a wrong-amount payment, then the fold and the orders read model both call it stray money', async () => {
    const store = new InMemoryEventStore();
    const order = anOrder({ paymentMethod: 'STRIPE' });
    await given(
      store,
      order.orderId,
      [orderPlaced(order), paymentInitiated(order, 'pi_1'), paymentFailed(order, 'amount mismatch', 'pi_1')],
      legacyRefund(order.orderId, 2, { providerReference: 'pi_1', amount: 100, reason: 'amount mismatch' }),
    );

    const folded = await loadOrder(store, order.orderId);
    expect(folded.events.at(-1)?.event).toMatchObject({ type: 'RefundRequested', data: { stray: true } });

    const records = await store.readAll({ limit: 100 });
    const row = orderRowFromEvents(await decodeOrderRecords(store, records));
    expect(row).toMatchObject({ payment_status: 'FAILED', stray_refunds_pending: 1 });
    // The projection alone (what the projector applied before) took it for the order's own refund.
    expect(orderRowFromEvents(records.map(decodeOrderEvent))).toMatchObject({ payment_status: 'REFUND_PENDING', stray_refunds_pending: 0 });
  });

  it("when a v1 request refunded a paid order, then it is the order's own refund everywhere", async () => {
    const store = new InMemoryEventStore();
    const order = anOrder({ paymentMethod: 'STRIPE' });
    await given(store, order.orderId, paidOrder(order, 'pi_1'), legacyRefund(order.orderId, 1, { amount: 2500, reason: 'customer asked' }));

    const folded = await loadOrder(store, order.orderId);
    expect(folded.events.at(-1)?.event).toMatchObject({ type: 'RefundRequested', data: { stray: false } });
    expect(folded.state).toMatchObject({ refundRequested: true, strayPayments: [] });
    const row = orderRowFromEvents(await decodeOrderRecords(store, await store.readAll({ limit: 100 })));
    expect(row).toMatchObject({ payment_status: 'REFUND_PENDING', stray_refunds_pending: 0 });
  });
});
