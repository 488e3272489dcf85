import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { Notice, PageTitle, StatusBadge, Time } from '../components';
import { formatMoney, methodLabel, shortId } from '../format';
import { coalesced } from '../liveOrders';
import { follow, onPush, onResume } from '../realtime';
import { links } from '../router';
import { session } from '../session';
import { useStore } from '../store';
import type { TimelineEntry } from '../types';

function actorText(actor: TimelineEntry['actor'], myId: string | undefined): string {
  const who = actor.type === 'user' ? 'customer' : actor.type;
  if (actor.id === null) return who;
  if (actor.id === myId) return `${who} (you)`;
  return actor.type === 'provider' ? `${who} ${actor.id}` : `${who} ${shortId(actor.id)}`;
}

export function Timeline({ id }: { id: string }) {
  const me = useStore(session);
  const [entries, setEntries] = useState<TimelineEntry[] | null>(null);
  // null: follow the newest event as new ones arrive.
  const [chosen, setChosen] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const answer = await api<{ data: TimelineEntry[] }>('GET', `/orders/${id}/timeline`);
      setEntries(answer.data);
      setError(null);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, [id]);

  useEffect(() => {
    setEntries(null);
    setChosen(null);
    void load();
    const refresh = coalesced(() => load());
    const offs = [
      follow(id),
      onPush('orderUpdate', (push) => push.orderId === id && refresh(id, undefined)),
      onPush('paymentSuccess', (push) => push.orderId === id && refresh(id, undefined)),
      onPush('paymentFailed', (push) => push.orderId === id && refresh(id, undefined)),
      onResume(() => refresh(id, undefined)),
    ];
    return () => offs.forEach((off) => off());
  }, [id, load]);

  const title = `Timeline of order ${shortId(id)}`;
  if (!entries || entries.length === 0) {
    return (
      <>
        <PageTitle title={title}>
          Timeline of order <code>{shortId(id)}</code>
        </PageTitle>
        {error ? <Notice kind="error">{error}</Notice> : <p>Replaying the order’s events…</p>}
      </>
    );
  }

  const index = Math.min(chosen ?? entries.length - 1, entries.length - 1);
  const selected = entries[index]!;
  const state = selected.state;
  const valueText = `Event ${index + 1} of ${entries.length}: ${selected.type}, ${state.status}`;
  return (
    <>
      <p class="crumbs">
        <a href={links.order(id)}>← Order {shortId(id)}</a>
      </p>
      <PageTitle title={title}>
        Timeline of order <code>{shortId(id)}</code>
      </PageTitle>
      <p class="lede">Replayed from the event store: every event, who caused it, the status before and after it, and the order as it was after any event.</p>
      {error && <Notice kind="error">{error}</Notice>}
      <section class="panel" aria-labelledby="state-title">
        <div class="slider">
          <label for="timeline-slider">Show the order as it was after event</label>
          <input
            id="timeline-slider"
            type="range"
            min={1}
            max={entries.length}
            step={1}
            value={index + 1}
            aria-valuetext={valueText}
            onInput={(e) => {
              const value = Number(e.currentTarget.value) - 1;
              setChosen(value >= entries.length - 1 ? null : value);
            }}
          />
          <output for="timeline-slider">
            {index + 1} / {entries.length}
          </output>
        </div>
        <h2 id="state-title">
          State after event {index + 1}: {selected.type}
        </h2>
        <dl class="facts" id="timeline-state">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={state.status} />
          </dd>
          <dt>Total</dt>
          <dd>{formatMoney(state.totalAmount, state.currency)}</dd>
          <dt>Paid</dt>
          <dd>{formatMoney(state.paidAmount, state.currency)}</dd>
          <dt>Payment method</dt>
          <dd>{methodLabel[state.paymentMethod]}</dd>
          <dt>Payment reference</dt>
          <dd>{state.paymentReference ?? '—'}</dd>
          <dt>Refund requested</dt>
          <dd>{state.refundRequested ? 'yes' : 'no'}</dd>
          <dt>Revision · position</dt>
          <dd>
            {selected.revision} · {selected.position}
          </dd>
          <dt>At</dt>
          <dd>
            <Time iso={selected.at} />
          </dd>
        </dl>
      </section>
      <section class="panel" aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        <table class="timeline">
          <caption class="sr-only">Events of order {shortId(id)}, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Actor</th>
              <th scope="col">Status before → after</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry, i) => (
              <tr key={entry.position} class={i === index ? 'selected' : undefined} aria-current={i === index ? 'step' : undefined}>
                <td>
                  <button type="button" class="small quiet" aria-pressed={i === index} onClick={() => setChosen(i >= entries.length - 1 ? null : i)}>
                    {i + 1}
                    <span class="sr-only">: show the state after {entry.type}</span>
                  </button>
                </td>
                <td>
                  <Time iso={entry.at} />
                </td>
                <td>{entry.type}</td>
                <td>{actorText(entry.actor, me?.user.id)}</td>
                <td>
                  {entry.statusBefore ?? 'new'} → <strong>{entry.statusAfter}</strong>
                </td>
                <td class="event-detail">{entry.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
