import { decide, evolve, initialOrderState, orderTransitions, type OrderCommand, type OrderState } from '../../src/commands/order/orderDecider';
import { InvalidTransitionError } from '../../src/commands/order/orderErrors';
import { nextCommands, orderPlacement, transitionHint, type OrderTransition } from '../../src/commands/order/orderTransitions';
import { orderStatuses, paymentMethods, type OrderEvent, type OrderStatus, type PaymentMethod } from '../../src/events/orderEvents';

const orderId = '0b5d2f1e-8c43-4e0a-9d6b-3f1a2c4e5d60';
const userId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const total = 3499;
const now = '2026-03-02T12:00:00.000Z';

const placeOrder = (paymentMethod: PaymentMethod): OrderCommand => ({
  type: 'PlaceOrder',
  data: {
    orderId,
    userId,
    items: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', sku: 'MUG-01', name: 'Mug', quantity: 1, unitAmount: total, lineAmount: total }],
    currency: 'USD',
    paymentMethod,
    now,
  },
});

const references = ['pi_1', 'pi_2'] as const;

/**
 * Every shape of every command the application sends to an order paid by `method`: each reference,
 * amount, currency and actor, from the order's own provider (and one from another, refused).
 */
function commandVariants(method: PaymentMethod): OrderCommand[] {
  const provider = method;
  const variants: OrderCommand[] = [
    { type: 'MarkPaid', data: { now } },
    { type: 'ChangeStatus', data: { to: 'PROCESSING', now } },
    { type: 'ChangeStatus', data: { to: 'SHIPPED', now } },
    { type: 'ChangeStatus', data: { to: 'DELIVERED', now } },
    { type: 'CancelOrder', data: { by: 'user', now } },
    { type: 'CancelOrder', data: { by: 'admin', reason: 'out of stock', now } },
    { type: 'RequestRefund', data: { reason: 'damaged', now } },
    { type: 'ExpireOrder', data: { ttlMs: 0, now } },
    { type: 'ExpireOrder', data: { ttlMs: 1e12, now } },
    { type: 'InitiatePayment', data: { provider: method === 'STRIPE' ? 'PAYPAL' : 'STRIPE', providerReference: 'pi_1', now } },
    { type: 'RecordPaymentSuccess', data: { provider, amount: total, currency: 'USD', now } },
    { type: 'RecordPaymentFailure', data: { provider, reason: 'card_declined', now } },
    { type: 'RecordRefund', data: { provider, providerReference: 're_1', amount: total, currency: 'USD', now } },
    { type: 'RecordRefund', data: { provider, providerReference: 're_1', amount: total - 1, currency: 'USD', now } },
  ];
  for (const providerReference of references) {
    variants.push({ type: 'InitiatePayment', data: { provider, providerReference, now } });
    variants.push({ type: 'RecordPaymentSuccess', data: { provider, providerReference, amount: total, currency: 'USD', now } });
    variants.push({ type: 'RecordPaymentSuccess', data: { provider, providerReference, amount: total - 1, currency: 'USD', now } });
    variants.push({ type: 'RecordPaymentSuccess', data: { provider, providerReference, amount: total, currency: 'EUR', now } });
    variants.push({ type: 'RecordPaymentFailure', data: { provider, providerReference, reason: 'card_declined', now } });
    variants.push({ type: 'RecordRefund', data: { provider, providerReference: 're_1', paymentReference: providerReference, amount: total, currency: 'USD', now } });
  }
  return variants;
}

type Outcome = { kind: 'refused'; error: InvalidTransitionError } | { kind: 'error'; error: unknown } | { kind: 'applied'; to: OrderStatus; events: OrderEvent[] };

interface Observation {
  state: Exclude<OrderState, { status: 'NONE' }>;
  command: OrderCommand;
  outcome: Outcome;
}

function run(command: OrderCommand, state: OrderState): Outcome & { next?: OrderState } {
  try {
    const events = decide(command, state);
    const next = events.reduce(evolve, state);
    return { kind: 'applied', to: next.status as OrderStatus, events, next };
  } catch (error) {
    return error instanceof InvalidTransitionError ? { kind: 'refused', error } : { kind: 'error', error };
  }
}

/** What decide() looks at; stray payments that differ only in amount behave alike. */
function stateKey(state: Exclude<OrderState, { status: 'NONE' }>): string {
  const { strayPayments, orderId: _o, userId: _u, totalAmount: _t, currency: _c, ...rest } = state;
  return JSON.stringify({ ...rest, strays: strayPayments.map((p) => `${p.reference}:${p.refunded}`).sort() });
}

/**
 * Every state an order can reach through decide() from placement (breadth first over all command
 * variants), and what every command variant does in each of them.
 */
function explore(): Observation[] {
  const variants = new Map(paymentMethods.map((method) => [method, commandVariants(method)]));
  const seen = new Set<string>();
  let frontier: OrderState[] = [];
  for (const method of paymentMethods) {
    const placed = decide(placeOrder(method), initialOrderState).reduce(evolve, initialOrderState);
    frontier.push(placed);
  }
  const observations: Observation[] = [];
  while (frontier.length > 0) {
    const next: OrderState[] = [];
    for (const state of frontier) {
      if (state.status === 'NONE') continue;
      const key = stateKey(state);
      if (seen.has(key)) continue;
      seen.add(key);
      if (seen.size > 5_000) throw new Error('the state space did not close; is a state growing without bound?');
      for (const command of variants.get(state.paymentMethod)!) {
        const { next: after, ...outcome } = run(command, state);
        observations.push({ state, command, outcome });
        if (after) next.push(after);
      }
    }
    frontier = next;
  }
  return observations;
}

const observations = explore();
const sourceOf = new Map(orderTransitions.map((t) => [t.command, t.source]));
const entriesFrom = (command: OrderCommand['type'], from: OrderStatus): OrderTransition[] => orderTransitions.filter((t) => t.command === command && t.from === from);
const show = (o: Observation): string =>
  `${o.command.type} ${JSON.stringify(o.command.data)} in ${o.state.status} (${o.state.paymentMethod}, refund requested: ${o.state.refundRequested})`;

describe('the order transition table', () => {
  it('when every command variant is applied to every reachable state, then every status is reached', () => {
    const reached = new Set(observations.map((o) => o.state.status));
    expect([...reached].sort()).toEqual([...orderStatuses].sort());
  });

  it('when decide() applies a command and the status changes, then the table lists that move', () => {
    const unlisted = observations
      .filter((o) => o.outcome.kind === 'applied' && o.outcome.to !== o.state.status)
      .filter((o) => !entriesFrom(o.command.type, o.state.status).some((t) => o.outcome.kind === 'applied' && t.to === o.outcome.to))
      .map(show);
    expect(unlisted).toEqual([]);
  });

  it('when decide() accepts a client request, then the table lists the request in that status (a request is never silently ignored where it is not listed)', () => {
    const unlisted = observations
      .filter((o) => o.outcome.kind === 'applied' && sourceOf.get(o.command.type as OrderTransition['command']) === 'request')
      .filter((o) => entriesFrom(o.command.type, o.state.status).length === 0)
      .map(show);
    expect(unlisted).toEqual([]);
  });

  it('when decide() refuses a transition, then the error names the order status and the table has no unconditional move for that command there', () => {
    const refused = observations.filter((o) => o.outcome.kind === 'refused');
    expect(refused.length).toBeGreaterThan(100);
    const contradicted = refused
      .filter((o) => o.outcome.kind === 'refused' && (o.outcome.error.from !== o.state.status || entriesFrom(o.command.type, o.state.status).some((t) => t.when === undefined)))
      .map(show);
    expect(contradicted).toEqual([]);
  });

  it('when the table lists a move, then some reachable state and command make decide() perform it', () => {
    const performed = (t: OrderTransition): boolean =>
      observations.some((o) => o.command.type === t.command && o.state.status === t.from && o.outcome.kind === 'applied' && o.outcome.to === t.to && o.outcome.events.length > 0);
    expect(orderTransitions.filter((t) => !performed(t))).toEqual([]);
  });

  it('when the table says a move has a condition, then some reachable state or command in that status does not make it', () => {
    const unconditional = orderTransitions
      .filter((t) => t.when !== undefined)
      .filter((t) => observations.filter((o) => o.command.type === t.command && o.state.status === t.from).every((o) => o.outcome.kind === 'applied' && o.outcome.to === t.to));
    expect(unconditional).toEqual([]);
  });

  it('when an order is placed, then it starts in the status the table gives placement', () => {
    for (const method of paymentMethods) {
      expect(decide(placeOrder(method), initialOrderState).reduce(evolve, initialOrderState).status).toBe(orderPlacement.to);
    }
  });
});

function refusal(state: OrderState, command: OrderCommand): InvalidTransitionError {
  const outcome = run(command, state);
  if (outcome.kind !== 'refused') throw new Error(`expected a refused transition, got ${outcome.kind}`);
  return outcome.error;
}

const fold = (...commands: OrderCommand[]): OrderState => commands.reduce<OrderState>((state, command) => decide(command, state).reduce(evolve, state), initialOrderState);
const change = (to: 'PROCESSING' | 'SHIPPED' | 'DELIVERED'): OrderCommand => ({ type: 'ChangeStatus', data: { to, now } });
const markPaid: OrderCommand = { type: 'MarkPaid', data: { now } };

describe('illegal transitions say the next step', () => {
  it('when a PENDING order is moved to PROCESSING, then the error names both states and says the order must be paid first', () => {
    const error = refusal(fold(placeOrder('MANUAL')), change('PROCESSING'));
    expect(error.code).toBe('ORDER_INVALID_TRANSITION');
    expect(error.message).toBe('PENDING → PROCESSING is not allowed; the order must be PAID first: mark the order paid (MANUAL orders), or the provider confirms the payment');
    expect(error.details).toEqual({
      from: 'PENDING',
      to: 'PROCESSING',
      next: [
        { command: 'MarkPaid', to: 'PAID', action: 'mark the order paid', when: 'MANUAL orders' },
        { command: 'InitiatePayment', to: 'PENDING', action: 'pay online', when: 'STRIPE and PAYPAL orders' },
        { command: 'CancelOrder', to: 'CANCELLED', action: 'cancel the order' },
      ],
    });
  });

  it('when a PAID order is shipped before processing, then the error says to start processing first', () => {
    const error = refusal(fold(placeOrder('MANUAL'), markPaid), change('SHIPPED'));
    expect(error.message).toBe('PAID → SHIPPED is not allowed; the order must be PROCESSING first: start processing (no refund pending)');
  });

  it('when a user cancels a paid order, then the error gives the reason and lists what may follow PAID', () => {
    const error = refusal(fold(placeOrder('MANUAL'), markPaid), { type: 'CancelOrder', data: { by: 'user', now } });
    expect(error.message).toBe(
      'PAID → CANCELLED is not allowed: only an admin can cancel a paid order; next from PAID: start processing (no refund pending), cancel the order and refund the payment (by an admin), request a refund',
    );
  });

  it('when a delivered order is moved back, then the error offers the one request left', () => {
    const error = refusal(fold(placeOrder('MANUAL'), markPaid, change('PROCESSING'), change('SHIPPED'), change('DELIVERED')), change('SHIPPED'));
    expect(error.message).toBe('DELIVERED → SHIPPED is not allowed; next from DELIVERED: request a refund');
    expect((error.details as { next: unknown[] }).next).toEqual([{ command: 'RequestRefund', to: 'DELIVERED', action: 'request a refund' }]);
  });

  it('when a cancelled order is marked paid, then the error says the order takes no further commands', () => {
    const error = refusal(fold(placeOrder('MANUAL'), { type: 'CancelOrder', data: { by: 'user', now } }), markPaid);
    expect(error.message).toBe('CANCELLED → PAID is not allowed; a CANCELLED order takes no further commands');
    expect(error.details).toEqual({ from: 'CANCELLED', to: 'PAID', next: [] });
  });

  it('when any refusal happens, then its next commands are exactly the requests the table allows in that status, each of which decide() performs there', () => {
    const wrong: string[] = [];
    const checked = new Set<string>();
    for (const o of observations) {
      if (o.outcome.kind !== 'refused') continue;
      const { from, to, next } = o.outcome.error.details as { from: OrderStatus; to: OrderStatus; next: unknown };
      if (checked.has(`${from} ${to} ${o.outcome.error.message}`)) continue;
      checked.add(`${from} ${to} ${o.outcome.error.message}`);
      if (JSON.stringify(next) !== JSON.stringify(nextCommands(from))) wrong.push(`${show(o)}: next ${JSON.stringify(next)}`);
      const message = o.outcome.error.message;
      if (!message.startsWith(`${from} → ${to} is not allowed`) || !message.endsWith(`; ${transitionHint(from, to)}`)) wrong.push(`${show(o)}: ${message}`);
    }
    expect(checked.size).toBeGreaterThan(10);
    expect(wrong).toEqual([]);
    const offeredButNeverPerformed = orderStatuses.flatMap((status) =>
      nextCommands(status)
        .filter(({ command, to }) => !observations.some((o) => o.state.status === status && o.command.type === command && o.outcome.kind === 'applied' && o.outcome.to === to))
        .map(({ command, to }) => `${status}: ${command} → ${to}`),
    );
    expect(offeredButNeverPerformed).toEqual([]);
  });
});
