import type { EventData, RecordedEvent } from '../infra/eventstore/eventStore';
import { eventMetadataOf, MalformedEventError, type EncodeContext } from './codec';
import { eventMetadataSchema, type EventMetadata } from './orderEvents';
import { isStockEventType, stockEventSchemas, type StockEvent } from './stockEvents';

export interface StoredStockEvent {
  event: StockEvent;
  id: string;
  streamId: string;
  revision: bigint;
  position: bigint;
  createdAt: string;
  metadata: EventMetadata;
}

/** Parses a stored stock event; fails loudly like decodeOrderEvent. No stock event has an older version yet. */
export function decodeStockEvent(recorded: RecordedEvent): StoredStockEvent {
  const fail = (reason: string): never => {
    throw new MalformedEventError(recorded.streamId, recorded.position, recorded.revision, reason);
  };
  if (!isStockEventType(recorded.type)) return fail(`unknown stock event type "${recorded.type}"`);
  const metadata = eventMetadataSchema.safeParse(recorded.metadata);
  if (!metadata.success) return fail('bad metadata');
  const definition = stockEventSchemas[recorded.type];
  if (metadata.data.schemaVersion !== definition.version) {
    return fail(`${recorded.type} version ${metadata.data.schemaVersion} is not one this code understands (${definition.version})`);
  }
  const parsed = definition.schema.safeParse(recorded.data);
  if (!parsed.success) {
    return fail(`${recorded.type} v${definition.version}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`);
  }
  return {
    event: { type: recorded.type, data: parsed.data } as StockEvent,
    id: recorded.id,
    streamId: recorded.streamId,
    revision: recorded.revision,
    position: recorded.position,
    createdAt: recorded.createdAt,
    metadata: metadata.data,
  };
}

export function encodeStockEvent(event: StockEvent, id: string, context: EncodeContext = {}): EventData & { metadata: EventMetadata } {
  const definition = stockEventSchemas[event.type];
  const data = definition.schema.parse(event.data) as Record<string, unknown>;
  return { id, type: event.type, data, metadata: eventMetadataOf(definition.version, context) };
}

/** Stock streams are `stock-<productId>`. */
export const STOCK_STREAM_PREFIX = 'stock-';

export const stockStreamId = (productId: string): string => `${STOCK_STREAM_PREFIX}${productId}`;

export function isStockStream(streamId: string): boolean {
  return streamId.startsWith(STOCK_STREAM_PREFIX);
}

export function productIdFromStream(streamId: string): string | undefined {
  return isStockStream(streamId) ? streamId.slice(STOCK_STREAM_PREFIX.length) : undefined;
}
