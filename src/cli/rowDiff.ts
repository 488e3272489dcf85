import { canonicalJson, sameValue } from '../events/sameValue';
import type { OrderState } from '../commands/order/orderDecider';

/** A read-model row as PostgreSQL's to_jsonb renders it: the same shape for live and scratch tables. */
export type JsonRow = Record<string, unknown>;

export interface FieldDifference {
  /** A column name, or `(row)` when the whole row is missing or unexpected. */
  field: string;
  expected: unknown;
  found: unknown;
}

/**
 * The `orders` columns the order's own fold (the decider's `evolve`) determines: a check on the
 * projection logic itself, independent of the projector's code. Undefined when the events do not
 * describe an order (no OrderPlaced), so no row is expected.
 */
export function expectedOrderRow(state: OrderState, revision: bigint): JsonRow | undefined {
  if (state.status === 'NONE') return undefined;
  return {
    id: state.orderId,
    user_id: state.userId,
    status: state.status,
    total_amount: state.totalAmount,
    currency: state.currency,
    payment_method: state.paymentMethod,
    refunded_amount: state.refundedAmount,
    revision: Number(revision),
  };
}

/**
 * Field-by-field differences between the row the events imply and the row found. `fields` limits
 * the comparison (the fold knows only some columns); by default every column of either row.
 */
export function diffRows(expected: JsonRow | undefined, found: JsonRow | undefined, fields?: readonly string[]): FieldDifference[] {
  if (!expected && !found) return [];
  if (!expected) return [{ field: '(row)', expected: 'no row', found: 'a row' }];
  if (!found) return [{ field: '(row)', expected: 'a row', found: 'no row' }];
  const names = fields ?? [...new Set([...Object.keys(expected), ...Object.keys(found)])].sort();
  const differences: FieldDifference[] = [];
  for (const name of names) {
    const want = expected[name] ?? null;
    const got = found[name] ?? null;
    if (!sameValue(want, got)) differences.push({ field: name, expected: want, found: got });
  }
  return differences;
}

/** How a value appears in a mismatch line: JSON, so strings are quoted and null is visible. */
export function showValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : canonicalJson(value);
}
