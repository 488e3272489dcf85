import { z } from 'zod';

/**
 * Personal data sealed with the customer's data key (AES-256-GCM): `pii1.<iv>.<ciphertext>.<tag>`,
 * base64url. Without the key it is noise, which is how erasure works on an append-only log.
 */
export const sealedSchema = z.string().regex(/^pii1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/, 'not a sealed value');

/**
 * The additional data a sealed value is bound to: the ciphertext of one user's order cannot be
 * copied into another user's order (or another order of theirs) and still open.
 */
export function orderSealContext(userId: string, orderId: string): string {
  return `order-ledger/OrderPlaced/v2/user:${userId}/order:${orderId}`;
}

export function profileSealContext(userId: string): string {
  return `order-ledger/profile/v1/user:${userId}/default-shipping-address`;
}
