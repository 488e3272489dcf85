import { loadConfig } from '../../src/infra/config/config';
import { REFUSAL_WINDOW_SECONDS, SocketEventGate } from '../../src/infra/socket/socketLimits';
import { TokenBucket } from '../../src/infra/socket/tokenBucket';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TokenBucket', () => {
  test('when a full bucket is drained, then it refuses until time refills a token, and never holds more than its capacity', () => {
    const time = clock();
    const bucket = new TokenBucket(3, 2, time.now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    expect(bucket.msUntilNext()).toBe(500);
    time.advance(499);
    expect(bucket.take()).toBe(false);
    time.advance(1);
    expect(bucket.take()).toBe(true);
    time.advance(60_000);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });
});

describe('SocketEventGate', () => {
  const settings = loadConfig({
    NODE_ENV: 'test',
    SOCKET_EVENT_RATE: '5',
    SOCKET_EVENT_BURST: '4',
    SOCKET_MAX_PENDING_CHECKS: '2',
    SOCKET_REFUSALS_BEFORE_DISCONNECT: '3',
  });

  test('when a socket sends more than its burst at once, then the surplus is refused with a retry hint, and the rate lets it in again', () => {
    const time = clock();
    const gate = new SocketEventGate(settings, time.now);
    const answers = Array.from({ length: 6 }, () => gate.admitEvent());
    expect(answers.slice(0, 4)).toEqual([undefined, undefined, undefined, undefined]);
    expect(answers[4]).toBe('Too many events on this connection (at most 5/s, bursts of 4); retry in 200 ms');
    time.advance(200);
    expect(gate.admitEvent()).toBeUndefined();
    expect(gate.admitEvent()).toMatch(/^Too many events/);
  });

  test('when work is unanswered up to the bound, then more is refused until some ends', () => {
    const gate = new SocketEventGate(settings, clock().now);
    expect(gate.beginWork()).toBeUndefined();
    expect(gate.beginWork()).toBeUndefined();
    expect(gate.beginWork()).toBe('Too many unanswered requests on this connection (at most 2); wait for their acks');
    gate.endWork();
    expect(gate.beginWork()).toBeUndefined();
  });

  test('when refusals exceed the allowance within the window, then the socket must go; spread over time, they are forgiven', () => {
    const time = clock();
    const gate = new SocketEventGate(settings, time.now);
    expect([gate.refusedTooOften(), gate.refusedTooOften(), gate.refusedTooOften(), gate.refusedTooOften()]).toEqual([false, false, false, true]);

    const patient = new SocketEventGate(settings, time.now);
    const spacing = (REFUSAL_WINDOW_SECONDS * 1000) / 3;
    for (let i = 0; i < 20; i++) {
      expect(patient.refusedTooOften()).toBe(false);
      time.advance(spacing);
    }
  });
});
