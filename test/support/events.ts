import { randomUUID } from 'node:crypto';
import type { EventData } from '../../src/infra/eventstore/eventStore';

export function testEvent(overrides: Partial<EventData> = {}): EventData {
  return { id: randomUUID(), type: 'TestHappened', data: { n: Math.random() }, metadata: { schemaVersion: 1 }, ...overrides };
}

export const uniqueStream = (category = 'test'): string => `${category}-${randomUUID()}`;
