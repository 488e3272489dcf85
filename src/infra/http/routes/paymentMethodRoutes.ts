import { z } from 'zod';
import '../openapi';
import { paymentMethods, paymentMethodSchema, type PaymentMethod } from '../../../events/orderEvents';
import type { Deps } from '../../deps';
import { paymentsOf } from './paymentRoutes';
import { defineRoute, type RouteDeps } from '../route';

const paymentMethodsResponseSchema = z
  .object({ status: z.literal('success'), data: z.array(paymentMethodSchema).describe('MANUAL always; STRIPE and PAYPAL once their keys are set') })
  .openapi('PaymentMethodsResponse');

// MANUAL first: it needs no keys, so it is the one every deployment offers.
const offerRank: Record<PaymentMethod, number> = { MANUAL: 0, STRIPE: 1, PAYPAL: 2 };
const offerOrder = [...paymentMethods].sort((a, b) => offerRank[a] - offerRank[b]);

export function registerPaymentMethodRoutes(routes: RouteDeps, deps: Deps): void {
  defineRoute(routes, {
    method: 'get',
    path: '/payments/methods',
    summary: 'The payment methods an order may choose in this deployment',
    tags: ['Payments'],
    access: 'public',
    example: {},
    responses: { 200: { description: 'Configured methods', schema: paymentMethodsResponseSchema } },
    handler: async () => {
      const { providers } = paymentsOf(deps);
      const configured = offerOrder.filter((method) => providers.missingConfiguration(method).length === 0);
      return { status: 200, body: { status: 'success', data: configured } };
    },
  });
}
