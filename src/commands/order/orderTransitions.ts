import type { OrderStatus } from '../../events/orderEvents';
import type { OrderCommand } from './orderDecider';

/**
 * Who issues a command: a client's request (an HTTP route), or the application on a provider's
 * report (webhook, capture) or on its own clock (payment expiry). Only requests are offered to a
 * caller as a next step.
 */
export type CommandSource = 'request' | 'report';

/**
 * One move of the order's status machine: `command` takes an order in `from` to `to`. A command
 * that may leave the status as it is (a refund request) has `to` equal to `from`.
 */
export interface OrderTransition {
  command: Exclude<OrderCommand['type'], 'PlaceOrder'>;
  from: OrderStatus;
  to: OrderStatus;
  source: CommandSource;
  /** An instruction ("mark the order paid") for requests, a clause ("the provider confirms the payment") for reports. */
  action: string;
  /** What else must hold besides the status; in this status the command is refused when it does not. */
  when?: string;
}

export const orderPlacement = { command: 'PlaceOrder', to: 'PENDING', action: 'place the order' } as const;

const awaitingPayment = ['PENDING', 'PAYMENT_FAILED'] as const satisfies readonly OrderStatus[];
const paid = ['PAID', 'PROCESSING', 'SHIPPED', 'DELIVERED'] as const satisfies readonly OrderStatus[];

/**
 * The order's status machine, as decide() applies it (test/commands/orderTransitions.unit.test.ts
 * proves the two equal over every reachable state and command). Error hints and the README's
 * lifecycle diagram are derived from it.
 */
export const orderTransitions: readonly OrderTransition[] = [
  ...awaitingPayment.map((from): OrderTransition => ({ command: 'MarkPaid', from, to: 'PAID', source: 'request', action: 'mark the order paid', when: 'MANUAL orders' })),
  ...awaitingPayment.map((from): OrderTransition => ({
    command: 'InitiatePayment',
    from,
    to: 'PENDING',
    source: 'request',
    action: 'pay online',
    when: 'STRIPE and PAYPAL orders',
  })),
  ...awaitingPayment.map((from): OrderTransition => ({ command: 'CancelOrder', from, to: 'CANCELLED', source: 'request', action: 'cancel the order' })),
  ...awaitingPayment.map((from): OrderTransition => ({
    command: 'ExpireOrder',
    from,
    to: 'CANCELLED',
    source: 'report',
    action: 'the payment window closes (ORDER_PAYMENT_TTL)',
    when: 'past the window',
  })),
  ...awaitingPayment.map((from): OrderTransition => ({
    command: 'RecordPaymentSuccess',
    from,
    to: 'PAID',
    source: 'report',
    action: 'the provider confirms the payment',
    when: "the order's total in its currency",
  })),
  ...awaitingPayment.map((from): OrderTransition => ({
    command: 'RecordPaymentSuccess',
    from,
    to: 'PAYMENT_FAILED',
    source: 'report',
    action: 'the provider reports a wrong amount (given back)',
    when: 'any other amount',
  })),
  ...awaitingPayment.map((from): OrderTransition => ({
    command: 'RecordPaymentFailure',
    from,
    to: 'PAYMENT_FAILED',
    source: 'report',
    action: 'the provider reports a failed payment',
  })),
  { command: 'ChangeStatus', from: 'PAID', to: 'PROCESSING', source: 'request', action: 'start processing', when: 'no refund pending' },
  { command: 'ChangeStatus', from: 'PROCESSING', to: 'SHIPPED', source: 'request', action: 'mark the order shipped', when: 'no refund pending' },
  { command: 'ChangeStatus', from: 'SHIPPED', to: 'DELIVERED', source: 'request', action: 'mark the order delivered', when: 'no refund pending' },
  { command: 'CancelOrder', from: 'PAID', to: 'CANCELLED', source: 'request', action: 'cancel the order and refund the payment', when: 'by an admin' },
  ...paid.map((from): OrderTransition => ({ command: 'RequestRefund', from, to: from, source: 'request', action: 'request a refund' })),
  ...paid.map((from): OrderTransition => ({ command: 'RecordRefund', from, to: 'REFUNDED', source: 'report', action: 'the provider confirms the refund' })),
  { command: 'RecordRefund', from: 'CANCELLED', to: 'REFUNDED', source: 'report', action: 'the provider confirms the refund', when: 'a payment was received' },
];

/** A command a caller may send next, as `ORDER_INVALID_TRANSITION` details list them. */
export interface NextCommand {
  command: OrderTransition['command'];
  to: OrderStatus;
  action: string;
  when?: string;
}

/** The requests legal in `status`, in table order. */
export function nextCommands(status: OrderStatus): NextCommand[] {
  return orderTransitions
    .filter((t) => t.from === status && t.source === 'request')
    .map((t) => ({ command: t.command, to: t.to, action: t.action, ...(t.when ? { when: t.when } : {}) }));
}

function described(t: { action: string; when?: string; source?: CommandSource }): string {
  // A report's condition is the provider's business; a request's tells the caller whether it applies.
  return t.when && t.source !== 'report' ? `${t.action} (${t.when})` : t.action;
}

/** The first status after `from` on a shortest way to `to`, when `to` is reachable but not in one step. */
function firstStopOnTheWay(from: OrderStatus, to: OrderStatus): OrderStatus | undefined {
  const firstStop = new Map<OrderStatus, OrderStatus>();
  let frontier: OrderStatus[] = [from];
  const seen = new Set<OrderStatus>([from]);
  while (frontier.length > 0) {
    const next: OrderStatus[] = [];
    for (const status of frontier) {
      for (const t of orderTransitions) {
        if (t.from !== status || seen.has(t.to)) continue;
        seen.add(t.to);
        firstStop.set(t.to, status === from ? t.to : firstStop.get(status)!);
        next.push(t.to);
      }
    }
    frontier = next;
  }
  const stop = firstStop.get(to);
  return stop === to ? undefined : stop;
}

/**
 * What to do instead of an illegal move, in words: the status the order must reach first and how,
 * or else the requests legal now.
 */
export function transitionHint(from: OrderStatus, to: OrderStatus): string {
  const stop = firstStopOnTheWay(from, to);
  if (stop !== undefined) {
    const ways = orderTransitions.filter((t) => t.from === from && t.to === stop);
    return `the order must be ${stop} first: ${ways.map(described).join(', or ')}`;
  }
  const next = nextCommands(from);
  if (next.length === 0) return `a ${from} order takes no further commands`;
  return `next from ${from}: ${next.map(described).join(', ')}`;
}
