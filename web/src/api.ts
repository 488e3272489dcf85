import { session, signOut } from './session';

/** An error answer from the API: `{ status: 'error', error: { code, message, details? } }`, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TIMEOUT_MS = 15_000;

export interface ApiOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Send the session's bearer token (default true). */
  auth?: boolean;
}

/** One call to the API on this origin, bounded in time; a 401 ends the session. */
export async function api<T>(method: 'GET' | 'POST' | 'PATCH', path: string, options: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  const current = options.auth === false ? null : session.get();
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      credentials: 'same-origin',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    throw new ApiError(
      0,
      timedOut ? 'TIMEOUT' : 'NETWORK',
      timedOut ? 'The server did not answer in time; try again.' : 'The server could not be reached; check the connection and try again.',
    );
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    const failure = new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? `The server answered ${response.status}.`, error?.details);
    if (response.status === 401 && current && session.get()?.token === current.token) signOut(`Your session has ended (${failure.message}). Sign in again.`);
    throw failure;
  }
  return parsed as T;
}

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
