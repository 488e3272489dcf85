import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { createTestDatabase } from '../support/testDatabase';
import { describeEventStoreContract } from './eventStoreContract';

describeEventStoreContract('PostgresEventStore', async () => {
  const db = await createTestDatabase();
  const store = new PostgresEventStore({ connectionString: db.url, poolMax: 20, pollIntervalMs: 200 });
  return {
    store,
    tellsRetries: true,
    async cleanup() {
      await store.close();
      await db.drop();
    },
  };
});
