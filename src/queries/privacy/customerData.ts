import type { Knex } from 'knex';
import { z } from 'zod';
import { openProfileAddress } from '../../commands/privacy/personalData';
import { shippingAddressSchema, type ShippingAddress } from '../../commands/privacy/shippingAddress';
import type { DataKeyStore } from '../../infra/privacy/dataKeyStore';
import { roleSchema } from '../../infra/http/authTokens';
import { getOrderHistory, listOrders, orderDtoSchema, orderHistoryEntrySchema, MAX_PAGE_LIMIT, type OrderDto } from '../orderQueries';

export const profileSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    role: roleSchema,
    defaultShippingAddress: shippingAddressSchema.nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi('Profile');
export type Profile = z.infer<typeof profileSchema>;

export const customerDataExportSchema = z
  .object({
    exportedAt: z.iso.datetime(),
    profile: profileSchema,
    addresses: z.array(shippingAddressSchema).describe('Every distinct shipping address we hold for the caller'),
    orders: z.array(orderDtoSchema.extend({ history: z.array(orderHistoryEntrySchema) })),
  })
  .openapi('CustomerDataExport');
export type CustomerDataExport = z.infer<typeof customerDataExportSchema>;

interface UserRow {
  id: string;
  email: string;
  role: Profile['role'];
  default_shipping_address: string | null;
  created_at: Date;
}

/** The caller's profile with the default address opened; undefined for an unknown or erased account. */
export async function getProfile(knex: Knex, keys: DataKeyStore, userId: string): Promise<Profile | undefined> {
  const row = (await knex('users').where('id', userId).whereNull('erased_at').first('id', 'email', 'role', 'default_shipping_address', 'created_at')) as UserRow | undefined;
  if (!row) return undefined;
  let address: ShippingAddress | null = null;
  if (row.default_shipping_address) {
    const key = (await keys.existingKeys([userId])).get(userId);
    if (key) address = openProfileAddress(key, userId, row.default_shipping_address);
  }
  return { id: row.id, email: row.email, role: row.role, defaultShippingAddress: address, createdAt: row.created_at.toISOString() };
}

// Bounds the export: a customer with more orders gets them in pages of the orders API instead.
const MAX_EXPORTED_PAGES = 100;

/** Everything we hold about the caller (GDPR Art. 15 and 20): profile, orders with their history, addresses. */
export async function exportCustomerData(knex: Knex, keys: DataKeyStore, userId: string, now: string): Promise<CustomerDataExport | undefined> {
  const profile = await getProfile(knex, keys, userId);
  if (!profile) return undefined;
  const orders: OrderDto[] = [];
  for (let page = 1, cursor: string | null = null; page <= MAX_EXPORTED_PAGES; page++) {
    const result = await listOrders(knex, { page: 1, limit: MAX_PAGE_LIMIT, ...(cursor ? { cursor } : {}) }, { userId }, keys);
    orders.push(...result.data);
    cursor = result.meta.nextCursor;
    if (!cursor) break;
  }
  const withHistory = await Promise.all(orders.map(async (order) => ({ ...order, history: (await getOrderHistory(knex, order.id, { userId })) ?? [] })));
  const addresses = new Map<string, ShippingAddress>();
  for (const address of [profile.defaultShippingAddress, ...orders.map((o) => o.shippingAddress)]) {
    if (address) addresses.set(JSON.stringify(address), address);
  }
  return { exportedAt: now, profile, addresses: [...addresses.values()], orders: withHistory };
}
