import { orderSealContext, profileSealContext } from '../../events/personalData';
import type { DataKeyStore } from '../../infra/privacy/dataKeyStore';
import { open, seal } from '../../infra/privacy/sealing';
import { orderPersonalDataSchema, shippingAddressSchema, type OrderPersonalData, type ShippingAddress } from './shippingAddress';

/** Seals an order's personal data with its customer's key, bound to that customer and order. */
export async function sealOrderPersonalData(keys: DataKeyStore, userId: string, orderId: string, data: OrderPersonalData): Promise<string> {
  return seal(await keys.keyFor(userId), JSON.stringify(data), orderSealContext(userId, orderId));
}

export function openOrderPersonalData(key: Buffer, userId: string, orderId: string, sealed: string): OrderPersonalData {
  return orderPersonalDataSchema.parse(JSON.parse(open(key, sealed, orderSealContext(userId, orderId))));
}

export async function sealProfileAddress(keys: DataKeyStore, userId: string, address: ShippingAddress): Promise<string> {
  return seal(await keys.keyFor(userId), JSON.stringify(address), profileSealContext(userId));
}

export function openProfileAddress(key: Buffer, userId: string, sealed: string): ShippingAddress {
  return shippingAddressSchema.parse(JSON.parse(open(key, sealed, profileSealContext(userId))));
}
