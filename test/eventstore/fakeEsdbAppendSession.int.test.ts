import { randomUUID } from 'node:crypto';
import { KurrentDBClient, NO_STREAM, TransactionMaxSizeExceededError, WrongExpectedVersionError, jsonEvent, type AppendStreamRequest } from '@kurrent/kurrentdb-client';
import { startFakeEsdb, type FakeEsdb } from '../fakes/esdb/fakeEsdb';

/**
 * The test server refuses what KurrentDB's AppendSession refuses, in the shape the official client
 * decodes. The adapter's own checks stop most of these before they are sent, so the client is
 * driven directly here.
 */
describe('gRPC test server: Streams v2 AppendSession as KurrentDB 25.1 answers it', () => {
  let fake: FakeEsdb;
  let client: KurrentDBClient;

  beforeAll(async () => {
    fake = await startFakeEsdb();
    client = KurrentDBClient.connectionString(fake.connectionString);
  });
  afterAll(async () => {
    await client.dispose();
    await fake.close();
  });

  const event = (data: Record<string, unknown> = {}, type = 'Noted') => jsonEvent({ id: randomUUID(), type, data, metadata: { source: 'test' } });
  const request = (streamName: string, events = [event()]): AppendStreamRequest => ({ streamName, expectedState: NO_STREAM, events });

  it('when a stream is stale, then the client gets WrongExpectedVersionError naming it with both revisions, and nothing is written', async () => {
    const existing = `s-${randomUUID()}`;
    await client.multiStreamAppend([request(existing)]);
    const fresh = `s-${randomUUID()}`;
    const logged = fake.log.events.length;
    const error = await client.multiStreamAppend([request(fresh), request(existing)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ streamName: existing, expectedState: NO_STREAM, actualState: 0n });
    expect(fake.log.events).toHaveLength(logged);
  });

  it('when a stream appears twice in a session, in another letter case, then the session is aborted', async () => {
    const name = `S-${randomUUID()}`;
    await expect(client.multiStreamAppend([request(name), request(name.toLowerCase())])).rejects.toMatchObject({
      code: 10,
      message: expect.stringContaining('already has a different group of messages'),
    });
  });

  it('when the session holds no request, then the server refuses it (FAILED_PRECONDITION)', async () => {
    await expect(client.multiStreamAppend([])).rejects.toMatchObject({ code: 9, message: expect.stringContaining('no append requests') });
  });

  it('when a record name is not a valid schema name, then the request is invalid', async () => {
    await expect(client.multiStreamAppend([request(`s-${randomUUID()}`, [event({}, 'has space')])])).rejects.toMatchObject({ code: 3 });
  });

  it('when the records add up to more than 1 MiB, then the client gets TransactionMaxSizeExceededError with both sizes', async () => {
    const big = 'x'.repeat(300_000);
    const error = await client
      .multiStreamAppend([request(`s-${randomUUID()}`, [event({ big }), event({ big })]), request(`s-${randomUUID()}`, [event({ big }), event({ big })])])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransactionMaxSizeExceededError);
    expect(error).toMatchObject({ maxSize: 1_048_576 });
  });

  it('when every stream is a retry of a committed session, then it answers the original revisions and position', async () => {
    const requests = [request(`s-${randomUUID()}`, [event(), event()]), request(`s-${randomUUID()}`)];
    const first = await client.multiStreamAppend(requests);
    const logged = fake.log.events.length;
    await expect(client.multiStreamAppend(requests)).resolves.toEqual(first);
    expect(fake.log.events).toHaveLength(logged);
  });
});
