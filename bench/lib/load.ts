import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: unknown;
  connections: number;
  durationSeconds?: number;
  /** Stop after this many requests instead of after a duration. */
  amount?: number;
  /**
   * Called on every response with the count so far; returning 'stop' ends the run early (the
   * result then covers what was done).
   */
  onResponse?: (responses: number) => void | 'stop';
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  total: number;
  /** Responses outside 2xx plus connection errors and timeouts. */
  failed: number;
  seconds: number;
}

/** One autocannon run in this process against a server in another; bounded by duration or amount. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const settings: autocannon.Options = {
    url: options.url,
    method: options.method ?? 'GET',
    headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(options.headers ?? {}) },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    connections: options.connections,
    pipelining: 1,
    timeout: 30,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.durationSeconds ?? 5 }),
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(settings, (error: Error | null, done: autocannon.Result) => (error ? reject(error) : resolve(done)));
    const onResponse = options.onResponse;
    if (onResponse) {
      let responses = 0;
      let stopped = false;
      instance.on('response', () => {
        responses++;
        if (!stopped && onResponse(responses) === 'stop') {
          stopped = true;
          instance.stop();
        }
      });
    }
  });
  const total = result['2xx'];
  return {
    requestsPerSecond: total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    total,
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: result.duration,
  };
}
