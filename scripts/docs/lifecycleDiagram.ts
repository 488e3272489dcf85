import { orderPlacement, type OrderTransition } from '../../src/commands/order/orderTransitions';
import { orderStatuses, type OrderStatus } from '../../src/events/orderEvents';

/** Mermaid reads `;` as the end of a statement and `:` as the start of a label; neither may appear in one. */
function label(text: string): string {
  if (/[;:#]/.test(text)) throw new Error(`"${text}" cannot be a Mermaid label`);
  return text;
}

function described(t: OrderTransition): string {
  // A request's condition tells the reader when it applies; a report's is the provider's business.
  return label(t.when && t.source === 'request' ? `${t.action} (${t.when})` : t.action);
}

/**
 * The order's status machine as a Mermaid state diagram (GitHub renders it): one arrow per pair of
 * statuses, labelled with every command that makes that move (a client's request, or "the provider
 * …" for a report); commands that keep the status (↻) are listed in its box. Statuses no request
 * leads out of end the diagram.
 */
export function lifecycleDiagram(transitions: readonly OrderTransition[]): string {
  const moves = new Map<string, OrderTransition[]>();
  const stays = new Map<OrderStatus, OrderTransition[]>();
  for (const t of transitions) {
    if (t.to === t.from) stays.set(t.from, [...(stays.get(t.from) ?? []), t]);
    else moves.set(`${t.from} --> ${t.to}`, [...(moves.get(`${t.from} --> ${t.to}`) ?? []), t]);
  }
  const lines = ['```mermaid', 'stateDiagram-v2', `    [*] --> ${orderPlacement.to}: ${label(orderPlacement.action)}`];
  for (const [arrow, group] of moves) lines.push(`    ${arrow}: ${group.map(described).join('<br/>')}`);
  for (const [status, group] of stays) lines.push(`    ${status}: ${[status, ...group.map((t) => `↻ ${described(t)}`)].join('<br/>')}`);
  for (const status of orderStatuses) {
    const leadsOut = transitions.some((t) => t.from === status && t.to !== status && t.source === 'request');
    if (!leadsOut) lines.push(`    ${status} --> [*]`);
  }
  lines.push('```');
  return lines.join('\n');
}
