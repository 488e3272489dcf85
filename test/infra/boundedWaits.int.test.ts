import Redis from 'ioredis';
import { boundedRedisCall } from '../../src/infra/http/rateLimit';
import { withTimeout } from '../../src/infra/withTimeout';

/** Keeps the event loop busy, as a process that is not scheduled for a while would be. */
function blockFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

describe('boundedRedisCall', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('when the reply arrived while the process was not running, then the call answers instead of timing out', async () => {
    const call = boundedRedisCall(redis, 'ECHO', ['answered'], 50);
    // The reply comes back during the block; the timer has expired by the time the loop runs again.
    blockFor(300);
    await expect(call).resolves.toBe('answered');
  });

  it('when Redis does not answer within the bound, then the call fails with RATE_LIMITER_UNAVAILABLE', async () => {
    const blocking = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await blocking.connect();
    try {
      // BLPOP on an empty key holds the reply for a second: far past the bound.
      await expect(boundedRedisCall(blocking, 'BLPOP', [`ol-test:none:${process.pid}:${Date.now()}`, '1'], 50)).rejects.toMatchObject({ code: 'RATE_LIMITER_UNAVAILABLE' });
    } finally {
      blocking.disconnect();
    }
  });
});

describe('withTimeout', () => {
  it('when the work finished while the process was not running, then its result wins over the expired bound', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    try {
      const answer = withTimeout(redis.echo('done'), 50, 'echo');
      blockFor(300);
      await expect(answer).resolves.toBe('done');
      await expect(withTimeout(new Promise(() => undefined), 20, 'nothing')).rejects.toThrow('nothing did not finish within 20 ms');
    } finally {
      await redis.quit();
    }
  });
});
