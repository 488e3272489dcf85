/**
 * The append runs as one function call: one round trip, one implicit transaction.
 * It locks the stream's row, checks idempotency (ids already stored at that place), checks the
 * expected revision, and inserts the events with positions derived from the transaction id.
 * Raised SQLSTATEs: OL001 wrong expected revision (DETAIL = actual revision, -1 for no stream),
 * OL002 ids already stored elsewhere.
 */
export const appendFunctionSql = `
create or replace function order_ledger_append(
  p_stream_id text,
  p_expected_kind text,
  p_expected bigint,
  p_ids uuid[],
  p_types text[],
  p_data jsonb[],
  p_metadata jsonb[]
) returns table (outcome text, next_revision bigint, last_position bigint)
language plpgsql as $fn$
declare
  v_count int := coalesce(array_length(p_ids, 1), 0);
  v_current bigint;
  v_found int;
  v_found_here int;
  v_first bigint;
  v_last bigint;
  v_last_position bigint;
  v_base bigint;
begin
  if v_count = 0 then
    raise exception 'order_ledger_append needs at least one event' using errcode = '22023';
  end if;
  if v_count > 1048576 then
    raise exception 'too many events in one append (%)', v_count using errcode = '22023';
  end if;

  -- Fast path: one write to the stream row both checks the expectation and locks the stream.
  -- Ids stored elsewhere surface as a unique violation on events.event_id.
  if p_expected_kind = 'no_stream' then
    insert into streams (stream_id, revision) values (p_stream_id, v_count - 1)
      on conflict (stream_id) do nothing
      returning -1 into v_current;
  elsif p_expected_kind = 'exact' then
    update streams set revision = p_expected + v_count
      where stream_id = p_stream_id and revision = p_expected
      returning p_expected into v_current;
  end if;

  if v_current is null then
    -- 'any', or the expectation did not hold: lock the stream, then tell a retry of events
    -- already stored at this place (idempotent) from a real conflict.
    insert into streams as s (stream_id, revision) values (p_stream_id, -1)
      on conflict (stream_id) do update set revision = s.revision
      returning s.revision into v_current;

    select count(*), count(*) filter (where e.stream_id = p_stream_id), min(e.revision), max(e.revision), max(e.position)
      into v_found, v_found_here, v_first, v_last, v_last_position
      from events e where e.event_id = any(p_ids);

    if v_found > 0 then
      if v_found = v_count and v_found_here = v_count and v_last - v_first = v_count - 1
         and (p_expected_kind = 'any'
              or (p_expected_kind = 'no_stream' and v_first = 0)
              or (p_expected_kind = 'exact' and v_first = p_expected + 1)) then
        return query select 'idempotent'::text, v_last, v_last_position;
        return;
      end if;
      raise exception 'stream %: event ids are already stored elsewhere', p_stream_id using errcode = 'OL002';
    end if;

    if (p_expected_kind = 'no_stream' and v_current <> -1)
       or (p_expected_kind = 'exact' and v_current <> p_expected) then
      raise exception 'stream %: wrong expected revision', p_stream_id using errcode = 'OL001', detail = v_current::text;
    end if;

    update streams set revision = v_current + v_count where stream_id = p_stream_id;
  end if;

  v_base := pg_current_xact_id()::text::bigint << 20;
  insert into events (position, event_id, stream_id, revision, type, data, metadata)
    select v_base + (u.ord - 1), u.id, p_stream_id, v_current + u.ord, u.type, u.data, u.meta
    from unnest(p_ids, p_types, p_data, p_metadata) with ordinality as u(id, type, data, meta, ord);
  return query select 'appended'::text, v_current + v_count, v_base + (v_count - 1);
end
$fn$;
`;

/**
 * Readers of $all stop below the oldest transaction still in flight that could append here: every
 * event below the boundary has committed or never will, and anything that commits later gets a
 * higher position. Transaction ids are cluster-wide, so the plain snapshot xmin would let a long
 * transaction in ANOTHER database of the cluster hold every reader back. A transaction in flight
 * in this statement's snapshot is skipped only when pg_stat_activity places it in another database
 * (a backend only ever writes to its own); one that finished meanwhile, a prepared transaction, or
 * one whose database we may not see (pg_stat_activity hides other roles' backend_xid without
 * pg_read_all_stats) still counts. pg_current_snapshot() is the statement's own snapshot, the one
 * the events scan uses. backend_xid is 32 bits; live xids are within 2^31 of each other, so the
 * low 32 bits of the snapshot's xid8 identify it.
 */
export const safeBoundarySql = `(
  select coalesce(
    (select min(x::text::bigint) from pg_snapshot_xip(s.snap) as x
      where not exists (
        select 1 from pg_stat_activity a
        where a.datid <> (select oid from pg_database where datname = current_database())
          and a.backend_xid::text::bigint = x::text::bigint % 4294967296)),
    pg_snapshot_xmax(s.snap)::text::bigint) << 20
  from (select pg_current_snapshot() as snap) s)`;
