import { createStore } from './store';

/** PayPal approval links by order id, from POST /orders or POST /orders/:id/pay (the API does not store them). */
export const approvalLinks = createStore<Record<string, string>>({});

export function rememberApprovalLink(orderId: string, url: string): void {
  approvalLinks.update((links) => ({ ...links, [orderId]: url }));
}
