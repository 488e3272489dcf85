import { InMemoryEventStore } from '../../src/infra/eventstore/memoryEventStore';
import { describeEventStoreContract } from './eventStoreContract';

describeEventStoreContract('InMemoryEventStore', async () => {
  const store = new InMemoryEventStore();
  return { store, cleanup: () => store.close(), tellsRetries: true };
});
