import type { Knex } from 'knex';
import type { AuthState } from './auth/authState';
import type { Authenticator } from './auth/authenticator';
import type { Config } from './config/config';
import type { EventStore } from './eventstore/eventStore';
import type { TokenService } from './http/authTokens';
import type { Logger } from './logger';
import type { Redis } from './redis';
import type { ProjectionWaiter } from '../queries/consistency';
import type { OrderReads } from '../queries/orderAfterCommand';
import type { Projector } from '../projections/projector';
import type { Notifier } from '../projections/notifier';
import type { SocketServer } from './socket/socketServer';
import type { PaymentDeps } from '../commands/payments/paymentDeps';
import type { Metrics } from './metrics/metrics';
import type { DataKeyStore } from './privacy/dataKeyStore';

/**
 * Everything a role needs, built once in the composition root (runtime.ts) and passed down as one
 * named object. Optional members exist only in processes running the role that owns them.
 */
export interface Deps {
  config: Config;
  logger: Logger;
  knex: Knex;
  store: EventStore;
  redis: Redis;
  tokens: TokenService;
  /** Accounts as they are now (role, disabled, revocations), cached and kept fresh by LISTEN. */
  auth: AuthState;
  /** Token plus account check for every HTTP request and socket. */
  authenticator: Authenticator;
  waiter: ProjectionWaiter;
  /** Where command answers read the order (the read models, through the waiter). */
  orderReads: OrderReads;
  /** Customers' data keys (personal data sealed in events; destroyed on erasure). */
  dataKeys: DataKeyStore;
  projector?: Projector;
  /** api role: Socket.io on this process's HTTP server. */
  sockets?: SocketServer;
  notifier?: Notifier;
  /** api and worker roles: the configured payment providers and what the payment flows need. */
  payments?: PaymentDeps;
  clock: () => Date;
  /** Prometheus metrics of this runtime (GET /metrics). */
  metrics?: Metrics;
}
