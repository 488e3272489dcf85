import { openOrderPersonalData } from '../../commands/privacy/personalData';
import type { OrderPersonalData } from '../../commands/privacy/shippingAddress';
import type { DataKeyStore } from '../../infra/privacy/dataKeyStore';

export interface SealedOf {
  userId: string;
  orderId: string;
  /** The sealed value as stored (read model or event); null when the order carries none. */
  sealed: string | null;
}

/**
 * Opens the personal data of several orders at the moment they are read for a person: one key
 * lookup for all their customers. A destroyed key reads as 'erased'; a value that does not open
 * with its own key (altered, or moved to another order) throws.
 */
export async function openPersonalData(keys: DataKeyStore, sealed: readonly SealedOf[]): Promise<(OrderPersonalData | 'erased' | undefined)[]> {
  const withData = sealed.filter((s) => s.sealed !== null);
  if (withData.length === 0) return sealed.map(() => undefined);
  const found = await keys.existingKeys([...new Set(withData.map((s) => s.userId))]);
  return sealed.map(({ userId, orderId, sealed: value }) => {
    if (value === null) return undefined;
    const key = found.get(userId);
    return key ? openOrderPersonalData(key, userId, orderId, value) : 'erased';
  });
}
