import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Server } from 'socket.io';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import { createAdapterRedis, socketAdapterOptions, type ServerToClientEvents } from './socketEvents';

export type ServerEventName = keyof ServerToClientEvents;
export type ServerEventPayload<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0];

/** Emits to rooms on every API instance from any process, API role or not. */
export interface SocketPublisher {
  /** One broadcast to the union of the rooms: a socket in several of them receives it once. */
  emit<E extends ServerEventName>(rooms: string[], event: E, payload: ServerEventPayload<E>): void;
  /** Resolves once every earlier emit has reached Redis; rejects after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A Socket.io server that listens on nothing, joined to the same Redis stream as the API
 * instances: its broadcasts are appended to the stream and every instance delivers them to its
 * own clients (and keeps them for clients recovering their session).
 */
export function createSocketPublisher(config: Config, logger: Logger): SocketPublisher {
  const redis = createAdapterRedis(config, logger);
  const io = new Server<Record<string, never>, ServerToClientEvents>({ adapter: createAdapter(redis.client, socketAdapterOptions(config)) });

  return {
    emit(rooms, event, payload) {
      (io.to(rooms).emit as (event: string, payload: unknown) => boolean)(event, payload);
    },
    async flush(timeoutMs) {
      // The adapter writes each broadcast (XADD) on this connection synchronously; replies come
      // back in order, so a PING answered means every earlier broadcast was answered too.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          redis.client.ping(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`Redis did not acknowledge socket pushes within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await Promise.resolve(io.of('/').adapter.close()).catch(() => undefined);
      await redis.close();
    },
  };
}
