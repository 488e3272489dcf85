/** Where the queue dashboard (bull-board) is mounted. */
export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * Dashboard requests spend the dashboard's own budget (per admin), not the API's: the board polls
 * every few seconds. Opening a session is an API call like any other.
 */
export function hasOwnRateLimit(path: string): boolean {
  return (path === QUEUE_DASHBOARD_PATH || path.startsWith(`${QUEUE_DASHBOARD_PATH}/`)) && path !== `${QUEUE_DASHBOARD_PATH}/session`;
}
