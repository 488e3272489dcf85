import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { loadConfig } from '../../src/infra/config/config';
import { createLogger } from '../../src/infra/logger';
import { createAdapterRedis, socketAdapterOptions, type AdapterRedis, type ServerToClientEvents } from '../../src/infra/socket/socketEvents';
import { createSocketPublisher, type SocketPublisher } from '../../src/infra/socket/socketPublisher';
import { TEST_JWT_SECRET } from '../support/apiHarness';
import { deleteKeys, eventually } from '../support/realtimeHarness';

const prefix = `ol-test:stream-reader:${randomBytes(6).toString('hex')}:`;
const config = loadConfig({
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused',
  REDIS_HOST: '127.0.0.1',
  REDIS_PORT: '6379',
  REDIS_KEY_PREFIX: prefix,
  JWT_SECRET: TEST_JWT_SECRET,
});
const logger = createLogger('silent');
const blockTimeInMs = socketAdapterOptions(config).blockTimeInMs ?? 0;

let httpServer: http.Server;
let io: Server;
let redis: AdapterRedis;
let publisher: SocketPublisher;
let socket: ClientSocket<ServerToClientEvents>;

/** Holds the event loop: no reply is read and no command is sent meanwhile. */
function holdEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* busy */
  }
}

beforeAll(async () => {
  redis = createAdapterRedis(config, logger);
  httpServer = http.createServer();
  io = new Server(httpServer, { adapter: createAdapter(redis.client, socketAdapterOptions(config)) });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  publisher = createSocketPublisher(config, logger);
  await publisher.flush(5000);
  await redis.reading;
  socket = connect(`http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
});

afterAll(async () => {
  socket?.disconnect();
  await publisher?.close();
  await io?.close();
  await redis?.close();
  await deleteKeys(prefix);
});

describe("the socket server's stream reader", () => {
  test('when the first broadcast on a quiet stream is appended while no read is waiting on Redis, then the clients still receive it', async () => {
    const received: unknown[] = [];
    socket.on('announcement', (payload) => received.push(payload));
    // The reader's blocking XREAD times out on Redis meanwhile; its next one is not sent until the loop is free.
    holdEventLoop(blockTimeInMs + 350);
    publisher.emit([], 'announcement', { message: 'first on the stream', at: new Date().toISOString() });
    // Redis takes the XADD (written to its socket at once) before the reader reads again.
    holdEventLoop(200);

    await eventually(() => received.length === 1, 'the broadcast to reach the client', 5000);
    expect(received).toEqual([{ message: 'first on the stream', at: expect.any(String) }]);
  });
});
