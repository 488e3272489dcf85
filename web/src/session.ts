import { createStore } from './store';
import type { User } from './types';

/** The signed-in user. The token lives in this tab's sessionStorage and in memory, never in a URL. */
export interface Session {
  token: string;
  user: User;
  /** JWT `exp` in milliseconds, when the token carries one. */
  expiresAt: number | null;
}

const KEY = 'order-ledger.session';
// setTimeout fires at once for delays above 2^31 - 1 ms.
const MAX_TIMER_MS = 2_147_483_647;

function expiryOf(token: string): number | null {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

function restore(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const saved = JSON.parse(raw) as Session;
    if (typeof saved.token !== 'string' || !saved.user?.id) return null;
    if (saved.expiresAt !== null && saved.expiresAt <= Date.now()) return null;
    return saved;
  } catch {
    return null;
  }
}

export const session = createStore<Session | null>(restore());
/** Why the last session ended (expired token, revoked), shown on the sign-in page. */
export const signOutReason = createStore<string | null>(null);

let expiryTimer: ReturnType<typeof setTimeout> | undefined;

function watchExpiry(current: Session | null): void {
  clearTimeout(expiryTimer);
  if (!current?.expiresAt) return;
  expiryTimer = setTimeout(() => signOut('Your session expired. Sign in again.'), Math.min(MAX_TIMER_MS, Math.max(0, current.expiresAt - Date.now())));
}
watchExpiry(session.get());

export function signIn(token: string, user: User): void {
  const next: Session = { token, user, expiresAt: expiryOf(token) };
  try {
    sessionStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    // Storage may be disabled; the session then lives in memory until the tab closes.
  }
  signOutReason.set(null);
  session.set(next);
  watchExpiry(next);
}

export function signOut(reason?: string): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
  watchExpiry(null);
  signOutReason.set(reason ?? null);
  session.set(null);
}
