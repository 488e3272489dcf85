import { z } from 'zod';
import { decodeOrderEvent, encodeOrderEvent, MalformedEventError, orderIdFromStream, orderStreamId } from '../../src/events/codec';
import { orderCancelledSchema, orderEventSchemas, orderEventTypes, type OrderEvent, type OrderEventOf, type OrderEventType } from '../../src/events/orderEvents';
import { upcast, upcasters } from '../../src/events/upcasters';
import type { EventData, RecordedEvent } from '../../src/infra/eventstore/eventStore';

const orderId = '0b5d2f1e-8c43-4e0a-9d6b-3f1a2c4e5d60';
const userId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const eventId = '5f3c0d8a-2b1e-4c7d-9a6f-0e8d7c6b5a49';
const streamId = orderStreamId(orderId);
const at = '2026-03-02T12:00:00.000Z';

const samples: { [K in OrderEventType]: OrderEventOf<K> } = {
  OrderPlaced: {
    type: 'OrderPlaced',
    data: {
      orderId,
      userId,
      items: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', sku: 'MUG-01', name: 'Mug', quantity: 2, unitAmount: 1250, lineAmount: 2500 }],
      totalAmount: 2500,
      currency: 'USD',
      paymentMethod: 'STRIPE',
      placedAt: at,
    },
  },
  PaymentInitiated: {
    type: 'PaymentInitiated',
    data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: 2500, currency: 'USD', initiatedAt: at },
  },
  PaymentSucceeded: {
    type: 'PaymentSucceeded',
    data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: 2500, currency: 'USD', succeededAt: at },
  },
  PaymentFailed: { type: 'PaymentFailed', data: { orderId, provider: 'PAYPAL', reason: 'card_declined', failedAt: at } },
  OrderStatusChanged: { type: 'OrderStatusChanged', data: { orderId, from: 'PAID', to: 'PROCESSING', changedAt: at } },
  OrderCancelled: { type: 'OrderCancelled', data: { orderId, from: 'PENDING', reason: 'changed my mind', cancelledAt: at } },
  RefundRequested: {
    type: 'RefundRequested',
    data: { orderId, provider: 'MANUAL', amount: 2500, currency: 'USD', requestedAt: at },
  },
  OrderRefunded: {
    type: 'OrderRefunded',
    data: { orderId, provider: 'STRIPE', providerReference: 're_1', amount: 2500, currency: 'USD', refundedAt: at },
  },
  StrayPaymentRefunded: {
    type: 'StrayPaymentRefunded',
    data: { orderId, provider: 'STRIPE', providerReference: 're_2', paymentReference: 'pi_2', amount: 2400, currency: 'USD', refundedAt: at },
  },
  PartialRefundRequested: {
    type: 'PartialRefundRequested',
    data: {
      orderId,
      refundId: 'a3e1c2d4-5b6f-4a7e-8c9d-0e1f2a3b4c5d',
      provider: 'STRIPE',
      providerReference: 'pi_1',
      amount: 1250,
      currency: 'USD',
      lines: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', quantity: 1, amount: 1250 }],
      reason: 'one mug arrived chipped',
      requestedAt: at,
    },
  },
  RefundRetryRequested: {
    type: 'RefundRetryRequested',
    data: { orderId, refundId: 'a3e1c2d4-5b6f-4a7e-8c9d-0e1f2a3b4c5d', attempt: 2, amount: 1250, currency: 'USD', requestedAt: at },
  },
  RefundSucceeded: {
    type: 'RefundSucceeded',
    data: {
      orderId,
      refundId: 'a3e1c2d4-5b6f-4a7e-8c9d-0e1f2a3b4c5d',
      provider: 'STRIPE',
      providerRefundId: 're_3',
      amount: 1250,
      currency: 'USD',
      refundedAmount: 1250,
      refundedAt: at,
    },
  },
  RefundFailed: {
    type: 'RefundFailed',
    data: { orderId, refundId: 'a3e1c2d4-5b6f-4a7e-8c9d-0e1f2a3b4c5d', attempt: 1, provider: 'STRIPE', reason: 'expired_or_canceled_card', failedAt: at },
  },
  ReturnRequested: {
    type: 'ReturnRequested',
    data: {
      orderId,
      returnId: 'c5a3e4f6-7d8b-4c9a-8e1f-2a3b4c5d6e7f',
      lines: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', quantity: 1 }],
      reason: 'too small',
      requestedAt: at,
    },
  },
  ReturnApproved: { type: 'ReturnApproved', data: { orderId, returnId: 'c5a3e4f6-7d8b-4c9a-8e1f-2a3b4c5d6e7f', approvedAt: at } },
  ReturnRejected: { type: 'ReturnRejected', data: { orderId, returnId: 'c5a3e4f6-7d8b-4c9a-8e1f-2a3b4c5d6e7f', reason: 'worn', rejectedAt: at } },
  ReturnReceived: {
    type: 'ReturnReceived',
    data: { orderId, returnId: 'c5a3e4f6-7d8b-4c9a-8e1f-2a3b4c5d6e7f', lines: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', quantity: 1, damaged: true }], receivedAt: at },
  },
  CustomerDataErased: { type: 'CustomerDataErased', data: { orderId, userId, erasedAt: at } },
};

/** What a store hands back: the encoded event at revision 7, global position 4242. */
function recorded(event: Pick<EventData, 'type' | 'data' | 'metadata'>, overrides: Partial<RecordedEvent> = {}): RecordedEvent {
  return {
    id: eventId,
    streamId,
    type: event.type,
    revision: 7n,
    position: 4242n,
    data: event.data,
    metadata: event.metadata ?? {},
    createdAt: '2026-03-02T12:00:01.000Z',
    ...overrides,
  };
}

function decodeFailure(record: RecordedEvent): MalformedEventError {
  let caught: unknown;
  try {
    decodeOrderEvent(record);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MalformedEventError);
  const error = caught as MalformedEventError;
  expect(error.code).toBe('MALFORMED_EVENT');
  expect(error.message).toContain(`stream ${record.streamId}`);
  expect(error.message).toContain(`position ${record.position}`);
  expect(error.message).toContain(`revision ${record.revision}`);
  expect({ streamId: error.streamId, position: error.position, revision: error.revision }).toEqual({
    streamId: record.streamId,
    position: record.position,
    revision: record.revision,
  });
  return error;
}

const cancelledV1 = samples.OrderCancelled;

describe('encodeOrderEvent', () => {
  it('when an event is encoded without context, then its metadata is only the current schema version', () => {
    expect(encodeOrderEvent(cancelledV1, eventId)).toStrictEqual({
      id: eventId,
      type: 'OrderCancelled',
      data: cancelledV1.data,
      metadata: { schemaVersion: 1 },
    });
  });

  it.each(orderEventTypes)('when a %s is encoded, then the schema version stamped is the one the code declares', (type) => {
    expect(encodeOrderEvent(samples[type], eventId).metadata).toStrictEqual({ schemaVersion: orderEventSchemas[type].version });
  });

  it('when an event is encoded with an actor, request and cause, then they travel in the metadata', () => {
    const encoded = encodeOrderEvent(cancelledV1, eventId, {
      actor: { type: 'admin', id: 'admin-1' },
      requestId: 'req-9',
      causationId: 'evt_stripe_1',
    });
    expect(encoded.metadata).toStrictEqual({
      schemaVersion: 1,
      actor: { type: 'admin', id: 'admin-1' },
      requestId: 'req-9',
      causationId: 'evt_stripe_1',
    });
  });

  it('when only a causation id is given, then the metadata holds it and nothing else from the context', () => {
    expect(encodeOrderEvent(cancelledV1, eventId, { causationId: 'evt_stripe_1' }).metadata).toStrictEqual({
      schemaVersion: 1,
      causationId: 'evt_stripe_1',
    });
  });

  it('when the event data breaks its schema, then encoding throws and names the field', () => {
    const lowerCaseCurrency = { type: 'PaymentSucceeded', data: { ...samples.PaymentSucceeded.data, currency: 'usd' } } as OrderEvent;
    expect(() => encodeOrderEvent(lowerCaseCurrency, eventId)).toThrow(z.ZodError);
    expect(() => encodeOrderEvent(lowerCaseCurrency, eventId)).toThrow(/currency/);
  });

  it('when the event carries a field its schema does not know, then the field is not written', () => {
    const withExtra: OrderEvent = { type: 'OrderCancelled', data: { ...cancelledV1.data, ...{ secret: 'x' } } };
    expect(encodeOrderEvent(withExtra, eventId).data).toStrictEqual(cancelledV1.data);
  });
});

describe('decodeOrderEvent', () => {
  it.each(orderEventTypes)('when a %s is encoded and read back, then it is the same event', (type) => {
    const stored = decodeOrderEvent(recorded(encodeOrderEvent(samples[type], eventId, { actor: { type: 'user', id: userId } })));
    expect(stored).toStrictEqual({
      event: samples[type],
      id: eventId,
      streamId,
      revision: 7n,
      position: 4242n,
      createdAt: '2026-03-02T12:00:01.000Z',
      metadata: { schemaVersion: orderEventSchemas[type].version, actor: { type: 'user', id: userId } },
    });
  });

  it("when a v1 RefundRequested (before it named the payment) is read, then it is a v2 refund of the order's own payment", () => {
    const v1 = { type: 'RefundRequested', data: { ...samples.RefundRequested.data }, metadata: { schemaVersion: 1 } };
    const stored = decodeOrderEvent(recorded(v1));
    expect(stored.event).toStrictEqual(samples.RefundRequested);
    expect(stored.event.type === 'RefundRequested' && stored.event.data.providerReference).toBeFalsy();
  });

  it('when a v2 RefundRequested (before it said whether the money was stray) is read, then it carries no stray flag for the fold to infer', () => {
    const v2 = { type: 'RefundRequested', data: { ...samples.RefundRequested.data, providerReference: 'pi_1' }, metadata: { schemaVersion: 2 } };
    const stored = decodeOrderEvent(recorded(v2));
    expect(stored.event).toStrictEqual({ type: 'RefundRequested', data: { ...samples.RefundRequested.data, providerReference: 'pi_1' } });
  });

  it('when the metadata holds keys the code does not know, then they are kept', () => {
    const stored = decodeOrderEvent(recorded({ ...encodeOrderEvent(cancelledV1, eventId), metadata: { schemaVersion: 1, $correlationId: 'c-1' } }));
    expect(stored.metadata).toStrictEqual({ schemaVersion: 1, $correlationId: 'c-1' });
  });

  it('when the event type is unknown, then it fails naming the type, stream and position', () => {
    const error = decodeFailure(recorded({ type: 'OrderTeleported', data: { orderId }, metadata: { schemaVersion: 1 } }));
    expect(error.message).toMatch(/unknown event type "OrderTeleported"/);
  });

  it('when a field has the wrong value, then it fails naming the field, stream and position', () => {
    const error = decodeFailure(recorded({ ...encodeOrderEvent(samples.OrderPlaced, eventId), data: { ...samples.OrderPlaced.data, totalAmount: -5 } }));
    expect(error.message).toMatch(/OrderPlaced v2: totalAmount/);
  });

  it('when a required field is missing, then it fails naming the field', () => {
    const { orderId: _dropped, ...withoutOrderId } = samples.PaymentFailed.data;
    const error = decodeFailure(recorded({ type: 'PaymentFailed', data: withoutOrderId, metadata: { schemaVersion: 1 } }));
    expect(error.message).toMatch(/PaymentFailed v1: orderId/);
  });

  it('when the metadata has no schema version, then it fails as bad metadata', () => {
    const error = decodeFailure(recorded({ type: 'OrderCancelled', data: cancelledV1.data, metadata: {} }));
    expect(error.message).toMatch(/bad metadata: schemaVersion/);
  });

  it('when the metadata names an unknown kind of actor, then it fails as bad metadata', () => {
    const error = decodeFailure(recorded({ type: 'OrderCancelled', data: cancelledV1.data, metadata: { schemaVersion: 1, actor: { type: 'robot' } } }));
    expect(error.message).toMatch(/bad metadata: actor\.type/);
  });

  it('when the schema version is newer than the code, then it fails saying so', () => {
    const error = decodeFailure(recorded({ type: 'OrderCancelled', data: cancelledV1.data, metadata: { schemaVersion: 2 } }, { revision: 0n, position: 17n }));
    expect(error.message).toMatch(/OrderCancelled version 2 is newer than this code understands \(1\)/);
  });
});

describe('upcasting', () => {
  // A hypothetical OrderCancelled v2 that records who cancelled; v1 events did not know.
  const orderCancelledV2Schema = orderCancelledSchema.extend({ cancelledBy: z.enum(['user', 'admin', 'unknown']) });
  type Definition = { version: number; schema: z.ZodType };
  const definitions = orderEventSchemas as unknown as Record<OrderEventType, Definition>;
  const originalDefinition = definitions.OrderCancelled;
  const originalUpcasters = upcasters.OrderCancelled;

  afterEach(() => {
    definitions.OrderCancelled = originalDefinition;
    if (originalUpcasters) upcasters.OrderCancelled = originalUpcasters;
    else delete upcasters.OrderCancelled;
  });

  const bumpOrderCancelledToV2 = (): void => {
    definitions.OrderCancelled = { version: 2, schema: orderCancelledV2Schema };
  };

  it('when upcasters are registered for each step, then upcast applies them in order', () => {
    upcasters.OrderCancelled = {
      1: (data) => ({ ...data, steps: ['1→2'] }),
      2: (data) => ({ ...data, steps: [...(data.steps as string[]), '2→3'] }),
    };
    expect(upcast('OrderCancelled', 1, 3, { orderId })).toStrictEqual({ orderId, steps: ['1→2', '2→3'] });
  });

  it('when the data is already at the current version, then upcast returns it as it is', () => {
    const data = { orderId };
    expect(upcast('OrderCancelled', 2, 2, data)).toBe(data);
  });

  it('when a step has no upcaster, then upcast fails naming the type and the versions', () => {
    upcasters.OrderCancelled = { 1: (data) => data };
    expect(() => upcast('OrderCancelled', 1, 3, { orderId })).toThrow('no upcaster for OrderCancelled from version 2 to 3');
  });

  it('when the code is at v2, then encoding stamps version 2 and validates against the v2 schema', () => {
    bumpOrderCancelledToV2();
    const v2: OrderEvent = { type: 'OrderCancelled', data: { ...cancelledV1.data, ...{ cancelledBy: 'admin' } } };
    const encoded = encodeOrderEvent(v2, eventId);
    expect(encoded.metadata).toStrictEqual({ schemaVersion: 2 });
    expect(encoded.data).toStrictEqual({ ...cancelledV1.data, cancelledBy: 'admin' });
    expect(() => encodeOrderEvent(cancelledV1, eventId)).toThrow(/cancelledBy/);
  });

  it('when a v1 event is read by code at v2 with an upcaster registered, then it decodes as v2', () => {
    bumpOrderCancelledToV2();
    upcasters.OrderCancelled = { 1: (data) => ({ ...data, cancelledBy: 'unknown' }) };
    const stored = decodeOrderEvent(recorded({ type: 'OrderCancelled', data: cancelledV1.data, metadata: { schemaVersion: 1 } }));
    expect(stored.event).toStrictEqual({ type: 'OrderCancelled', data: { ...cancelledV1.data, cancelledBy: 'unknown' } });
    expect(stored.metadata.schemaVersion).toBe(1);
  });

  it('when a v2 event is read by code at v2, then the upcaster is not applied', () => {
    bumpOrderCancelledToV2();
    upcasters.OrderCancelled = { 1: (data) => ({ ...data, cancelledBy: 'unknown' }) };
    const v2 = { ...cancelledV1.data, cancelledBy: 'admin' };
    const stored = decodeOrderEvent(recorded({ type: 'OrderCancelled', data: v2, metadata: { schemaVersion: 2 } }));
    expect(stored.event.data).toStrictEqual(v2);
  });

  it('when a v1 event is read by code at v2 without an upcaster, then it fails naming the missing step, stream and position', () => {
    bumpOrderCancelledToV2();
    const error = decodeFailure(recorded({ type: 'OrderCancelled', data: cancelledV1.data, metadata: { schemaVersion: 1 } }));
    expect(error.message).toMatch(/no upcaster for OrderCancelled from version 1 to 2/);
  });

  it('when an upcaster produces data the new schema rejects, then it fails naming the field', () => {
    bumpOrderCancelledToV2();
    upcasters.OrderCancelled = { 1: (data) => ({ ...data, cancelledBy: 'robot' }) };
    const error = decodeFailure(recorded({ type: 'OrderCancelled', data: cancelledV1.data, metadata: { schemaVersion: 1 } }));
    expect(error.message).toMatch(/OrderCancelled v2: cancelledBy/);
  });

  it('when an upcaster throws, then decoding fails with its message, stream and position', () => {
    bumpOrderCancelledToV2();
    upcasters.OrderCancelled = {
      1: () => {
        throw new Error('cannot tell who cancelled');
      },
    };
    const error = decodeFailure(recorded({ type: 'OrderCancelled', data: cancelledV1.data, metadata: { schemaVersion: 1 } }));
    expect(error.message).toMatch(/cannot tell who cancelled/);
  });
});

describe('order stream ids', () => {
  it('when an order id is turned into a stream id and back, then it is the same id', () => {
    expect(streamId).toBe(`order-${orderId}`);
    expect(orderIdFromStream(streamId)).toBe(orderId);
  });

  it('when a stream is not an order stream, then it has no order id', () => {
    expect(orderIdFromStream(`payment-${orderId}`)).toBeUndefined();
  });
});
