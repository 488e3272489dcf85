import { createStore } from './store';

/** Pages live in the URL fragment, so no path of the front can ever shadow an API route. */
export type Route =
  | { page: 'home' }
  | { page: 'shop' }
  | { page: 'orders' }
  | { page: 'order'; id: string }
  | { page: 'timeline'; id: string }
  | { page: 'board' }
  | { page: 'missing'; hash: string };

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const ORDER = new RegExp(`^#/orders/(${UUID})$`);
const TIMELINE = new RegExp(`^#/orders/(${UUID})/timeline$`);

export function parseRoute(hash: string): Route {
  if (hash === '' || hash === '#' || hash === '#/') return { page: 'home' };
  if (hash === '#/shop') return { page: 'shop' };
  if (hash === '#/orders') return { page: 'orders' };
  if (hash === '#/board') return { page: 'board' };
  const order = ORDER.exec(hash);
  if (order) return { page: 'order', id: order[1]!.toLowerCase() };
  const timeline = TIMELINE.exec(hash);
  if (timeline) return { page: 'timeline', id: timeline[1]!.toLowerCase() };
  return { page: 'missing', hash };
}

export const route = createStore<Route>(parseRoute(location.hash));
window.addEventListener('hashchange', () => route.set(parseRoute(location.hash)));

export const links = {
  home: '#/',
  shop: '#/shop',
  orders: '#/orders',
  board: '#/board',
  order: (id: string) => `#/orders/${id}`,
  timeline: (id: string) => `#/orders/${id}/timeline`,
};

export function navigate(hash: string): void {
  if (location.hash === hash) route.set(parseRoute(hash));
  else location.hash = hash;
}

let returnTo: string | null = null;

/** A page asked for before signing in, to open once signed in. */
export function rememberReturn(hash: string): void {
  returnTo = hash;
}

export function takeReturn(): string | null {
  const hash = returnTo;
  returnTo = null;
  return hash;
}
