import { orderHistoryProjection } from './orderHistoryProjection';
import { ordersProjection } from './ordersProjection';
import { stockProjection } from './stockProjection';

/**
 * The read models the projector keeps. A module of its own so the CLI can name them without
 * loading the server's runtime (Express, Socket.io, BullMQ, payment SDKs: about 60 MB of RSS).
 */
export const readModelProjections = [ordersProjection, orderHistoryProjection, stockProjection] as const;
