import type { EventData, RecordedEvent } from '../infra/eventstore/eventStore';
import { eventMetadataSchema, isOrderEventType, orderEventSchemas, type Actor, type EventMetadata, type OrderEvent } from './orderEvents';
import { upcast } from './upcasters';

export class MalformedEventError extends Error {
  readonly code = 'MALFORMED_EVENT';
  constructor(
    readonly streamId: string,
    readonly position: bigint,
    readonly revision: bigint,
    reason: string,
  ) {
    super(`Malformed event in stream ${streamId} at revision ${revision} (position ${position}): ${reason}`);
    this.name = 'MalformedEventError';
  }
}

export interface StoredOrderEvent {
  event: OrderEvent;
  id: string;
  streamId: string;
  revision: bigint;
  position: bigint;
  createdAt: string;
  metadata: EventMetadata;
}

/** Parses a stored event back into a typed order event, upcasting old versions; fails loudly. */
export function decodeOrderEvent(recorded: RecordedEvent): StoredOrderEvent {
  const fail = (reason: string): never => {
    throw new MalformedEventError(recorded.streamId, recorded.position, recorded.revision, reason);
  };
  if (!isOrderEventType(recorded.type)) return fail(`unknown event type "${recorded.type}"`);
  const metadata = eventMetadataSchema.safeParse(recorded.metadata);
  if (!metadata.success) return fail(`bad metadata: ${metadata.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  const definition = orderEventSchemas[recorded.type];
  const storedVersion = metadata.data.schemaVersion;
  if (storedVersion > definition.version) {
    return fail(`${recorded.type} version ${storedVersion} is newer than this code understands (${definition.version})`);
  }
  let data = recorded.data;
  try {
    data = upcast(recorded.type, storedVersion, definition.version, recorded.data);
  } catch (error) {
    fail((error as Error).message);
  }
  const parsed = definition.schema.safeParse(data);
  if (!parsed.success) {
    return fail(`${recorded.type} v${definition.version}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`);
  }
  return {
    event: { type: recorded.type, data: parsed.data } as OrderEvent,
    id: recorded.id,
    streamId: recorded.streamId,
    revision: recorded.revision,
    position: recorded.position,
    createdAt: recorded.createdAt,
    metadata: metadata.data,
  };
}

export interface EncodeContext {
  actor?: Actor;
  requestId?: string;
  causationId?: string;
}

/** The metadata every stored event carries: its schema version and who or what caused it. */
export function eventMetadataOf(schemaVersion: number, context: EncodeContext): EventMetadata {
  const metadata: EventMetadata = { schemaVersion };
  if (context.actor) metadata.actor = context.actor;
  if (context.requestId) metadata.requestId = context.requestId;
  if (context.causationId) metadata.causationId = context.causationId;
  return metadata;
}

/** Validates an outgoing event against its schema and stamps the schema version. */
export function encodeOrderEvent(event: OrderEvent, id: string, context: EncodeContext = {}): EventData & { metadata: EventMetadata } {
  const definition = orderEventSchemas[event.type];
  const data = definition.schema.parse(event.data) as Record<string, unknown>;
  return { id, type: event.type, data, metadata: eventMetadataOf(definition.version, context) };
}

/** Order streams are `order-<uuid>` (EventStoreDB groups streams by the part before the first dash). */
const ORDER_STREAM_PREFIX = 'order-';

export const orderStreamId = (orderId: string): string => `${ORDER_STREAM_PREFIX}${orderId}`;

export function isOrderStream(streamId: string): boolean {
  return streamId.startsWith(ORDER_STREAM_PREFIX);
}

export function orderIdFromStream(streamId: string): string | undefined {
  return isOrderStream(streamId) ? streamId.slice(ORDER_STREAM_PREFIX.length) : undefined;
}
