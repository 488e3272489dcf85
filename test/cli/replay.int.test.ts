import { createCliLedger, expectOneLineFailure, runCli, seedOrder, type CliLedger } from './cliHarness';

describe('order-ledger audit replay', () => {
  let ledger: CliLedger;
  let orderId: string;
  let userId: string;
  let times: string[];
  let positions: string[];

  beforeAll(async () => {
    ledger = await createCliLedger();
    ({ orderId, userId } = await seedOrder(ledger.store, 3)); // PENDING → PAID → PROCESSING → SHIPPED
    const events = await ledger.store.readStream(`order-${orderId}`);
    times = events.map((e) => Object.entries(e.data).find(([k]) => k.endsWith('At'))![1] as string);
    positions = events.map((e) => e.position.toString());
    // Replay must not need the read models: take them away entirely.
    await ledger.db.knex.raw('drop table order_history; drop table orders');
  });

  afterAll(async () => {
    await ledger.close();
  });

  it('when asked for a moment between payment and processing, then it shows the order as PAID then', async () => {
    const between = new Date(Date.parse(times[1]!) + 30_000).toISOString();
    const run = await runCli(['audit', 'replay', orderId, '--at', between], ledger.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`order ${orderId}`);
    expect(run.stdout).toMatch(/OrderPlaced\s+user:\S+\s+\(none\) -> PENDING/);
    expect(run.stdout).toMatch(/PaymentSucceeded\s+admin:admin-1\s+PENDING -> PAID/);
    expect(run.stdout).not.toContain('OrderStatusChanged');
    expect(run.stdout).toContain('(2 later event(s) not folded)');
    expect(run.stdout).toMatch(/^ {2}status: PAID$/m);
    expect(run.stdout).toMatch(/^ {2}revision: 1$/m);
  });

  it('when asked with --json at a global position, then the timeline and state stop at that event', async () => {
    const run = await runCli(['audit', 'replay', `order-${orderId}`, '--position', positions[2]!, '--json'], ledger.env);
    expect(run.code).toBe(0);
    const replay = JSON.parse(run.stdout) as {
      timeline: { position: string; type: string; actor: string; statusBefore: string; statusAfter: string; time: string }[];
      state: { status: string; userId: string; totalAmount: number };
      laterEvents: number;
    };
    expect(replay.timeline.map((e) => [e.type, e.statusBefore, e.statusAfter])).toEqual([
      ['OrderPlaced', 'NONE', 'PENDING'],
      ['PaymentSucceeded', 'PENDING', 'PAID'],
      ['OrderStatusChanged', 'PAID', 'PROCESSING'],
    ]);
    expect(replay.timeline.map((e) => e.position)).toEqual(positions.slice(0, 3));
    expect(replay.timeline.map((e) => e.time)).toEqual(times.slice(0, 3));
    expect(replay.timeline[0]!.actor).toBe(`user:${userId}`);
    expect(replay.state).toMatchObject({ status: 'PROCESSING', userId });
    expect(replay.laterEvents).toBe(1);
  });

  it('when asked without a moment, then it folds the whole stream', async () => {
    const run = await runCli(['audit', 'replay', orderId, '--json'], ledger.env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ state: { status: 'SHIPPED' }, laterEvents: 0, revision: '3' });
  });

  it('when asked for a moment before the order was placed, then it says the order did not exist yet', async () => {
    const before = new Date(Date.parse(times[0]!) - 1000).toISOString();
    const run = await runCli(['audit', 'replay', orderId, '--at', before], ledger.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('the order did not exist yet');
    expect(run.stdout).toMatch(/^ {2}status: \(none\)$/m);
  });

  it('when the order is unknown, then it exits non-zero with one line', async () => {
    const run = await runCli(['audit', 'replay', '0b7e3f4c-1111-4222-8333-944445555666'], ledger.env);
    expect(expectOneLineFailure(run)).toBe('order-ledger: order 0b7e3f4c-1111-4222-8333-944445555666 not found in the event store');
  });

  it('when the arguments are wrong, then it exits non-zero with one line', async () => {
    expect(expectOneLineFailure(await runCli(['audit', 'replay', 'not-an-id'], ledger.env))).toContain('is not an order id');
    expect(expectOneLineFailure(await runCli(['audit', 'replay', orderId, '--at', 'yesterday'], ledger.env))).toContain('is not an ISO-8601 time');
    expect(expectOneLineFailure(await runCli(['audit', 'replay', orderId, '--at', times[0]!, '--position', '1'], ledger.env))).toContain('cannot be used with');
  });

  it('when the database cannot be reached, then it exits non-zero with one line', async () => {
    const run = await runCli(['audit', 'replay', orderId], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
    expect(expectOneLineFailure(run)).toMatch(/^order-ledger: .*ECONNREFUSED/);
  });
});
