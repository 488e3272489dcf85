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

/**
 * `appendToStreams` as one function call: one round trip, one implicit transaction, whatever the
 * number of streams. Events arrive as flat arrays with the (1-based) index of their stream in
 * `p_stream_ids`; positions follow request order: stream by stream, in order within each.
 *
 * Every stream row is locked (created when missing) by one statement, in stream-id byte order:
 * two appends over overlapping streams take their locks in the same order, so one waits for the
 * other instead of both deadlocking. `lockInRequestOrder` exists only so a test can show the
 * deadlock that order prevents.
 *
 * Raised SQLSTATEs: OL001 wrong expected revision, DETAIL = {"stream": index, "actual": revision,
 * -1 for no stream} of the first stream in request order that fails (or is a retry when not every
 * stream is); OL002 ids already stored elsewhere, DETAIL = {"stream": index}.
 */
export function appendStreamsFunctionSql(options: { name?: string; lockInRequestOrder?: boolean } = {}): string {
  const name = options.name ?? 'order_ledger_append_streams';
  const lockOrder = options.lockInRequestOrder ? 'u.idx' : 'u.sid collate "C"';
  return `
create or replace function ${name}(
  p_stream_ids text[],
  p_expected_kinds text[],
  p_expected bigint[],
  p_event_streams int[],
  p_ids uuid[],
  p_types text[],
  p_data jsonb[],
  p_metadata jsonb[]
) returns table (outcome text, next_revisions bigint[], last_position bigint)
language plpgsql as $fn$
declare
  v_streams int := coalesce(array_length(p_stream_ids, 1), 0);
  v_count int := coalesce(array_length(p_ids, 1), 0);
  v_counts int[];
  v_current bigint[];
  v_next bigint[];
  v_states text[];
  v_retry boolean;
  v_found int;
  v_found_here int;
  v_first bigint;
  v_last bigint;
  v_position bigint;
  v_last_position bigint := -1;
  v_holds boolean;
  v_base bigint;
  i int;
begin
  if v_streams = 0 or v_count = 0 then
    raise exception '${name} needs at least one stream and one event' using errcode = '22023';
  end if;
  if v_count > 1048576 then
    raise exception 'too many events in one append (%)', v_count using errcode = '22023';
  end if;
  if coalesce(array_length(p_expected_kinds, 1), 0) <> v_streams or coalesce(array_length(p_expected, 1), 0) <> v_streams
     or coalesce(array_length(p_event_streams, 1), 0) <> v_count or coalesce(array_length(p_types, 1), 0) <> v_count
     or coalesce(array_length(p_data, 1), 0) <> v_count or coalesce(array_length(p_metadata, 1), 0) <> v_count then
    raise exception '${name}: argument arrays differ in length' using errcode = '22023';
  end if;
  select array_agg(coalesce(c.n, 0) order by g.i) into v_counts
    from generate_series(1, v_streams) as g(i)
    left join (select x, count(*)::int as n from unnest(p_event_streams) as x group by x) c on c.x = g.i;
  if 0 = any(v_counts) or (select sum(n) from unnest(v_counts) as n) <> v_count then
    raise exception '${name}: every stream needs events and every event a stream' using errcode = '22023';
  end if;

  with locked as (
    insert into streams as s (stream_id, revision)
      select u.sid, -1 from unnest(p_stream_ids) with ordinality as u(sid, idx) order by ${lockOrder}
      on conflict (stream_id) do update set revision = s.revision
      returning s.stream_id, s.revision
  )
  select array_agg(l.revision order by u.idx) into v_current
    from unnest(p_stream_ids) with ordinality as u(sid, idx) join locked l on l.stream_id = u.sid;

  -- The common case, no id stored yet, costs one index probe per id and skips the retry checks.
  v_retry := exists (select 1 from events e where e.event_id = any(p_ids));
  v_states := array_fill('ok'::text, array[v_streams]);
  v_next := array_fill(null::bigint, array[v_streams]);
  for i in 1..v_streams loop
    v_holds := p_expected_kinds[i] = 'any'
      or (p_expected_kinds[i] = 'no_stream' and v_current[i] = -1)
      or (p_expected_kinds[i] = 'exact' and v_current[i] = p_expected[i]);
    if v_retry then
      select count(*), count(*) filter (where e.stream_id = p_stream_ids[i]), min(e.revision), max(e.revision), max(e.position)
        into v_found, v_found_here, v_first, v_last, v_position
        from unnest(p_ids, p_event_streams) as u(id, sidx) join events e on e.event_id = u.id
        where u.sidx = i;
      if v_found > 0 then
        if v_found = v_counts[i] and v_found_here = v_counts[i] and v_last - v_first = v_counts[i] - 1
           and (p_expected_kinds[i] = 'any'
                or (p_expected_kinds[i] = 'no_stream' and v_first = 0)
                or (p_expected_kinds[i] = 'exact' and v_first = p_expected[i] + 1)) then
          v_states[i] := 'idempotent';
          v_next[i] := v_last;
          v_last_position := greatest(v_last_position, v_position);
        else
          raise exception 'stream %: event ids are already stored elsewhere', p_stream_ids[i]
            using errcode = 'OL002', detail = json_build_object('stream', i)::text;
        end if;
      elsif not v_holds then
        v_states[i] := 'conflict';
      end if;
    elsif not v_holds then
      raise exception 'stream %: wrong expected revision', p_stream_ids[i]
        using errcode = 'OL001', detail = json_build_object('stream', i, 'actual', v_current[i])::text;
    end if;
  end loop;

  if 'idempotent' = all(v_states) then
    return query select 'idempotent'::text, v_next, v_last_position;
    return;
  end if;
  for i in 1..v_streams loop
    if v_states[i] <> 'ok' then
      raise exception 'stream %: wrong expected revision', p_stream_ids[i]
        using errcode = 'OL001', detail = json_build_object('stream', i, 'actual', v_current[i])::text;
    end if;
  end loop;

  update streams s set revision = v_current[u.idx] + v_counts[u.idx]
    from unnest(p_stream_ids) with ordinality as u(sid, idx) where s.stream_id = u.sid;
  v_base := pg_current_xact_id()::text::bigint << 20;
  insert into events (position, event_id, stream_id, revision, type, data, metadata)
    select v_base + row_number() over (order by u.sidx, u.ord) - 1, u.id, p_stream_ids[u.sidx],
           v_current[u.sidx] + row_number() over (partition by u.sidx order by u.ord), u.type, u.data, u.meta
    from unnest(p_event_streams, p_ids, p_types, p_data, p_metadata) with ordinality as u(sidx, id, type, data, meta, ord);
  return query select 'appended'::text, array(select v_current[g.i] + v_counts[g.i] from generate_series(1, v_streams) as g(i)), v_base + v_count - 1;
end
$fn$;
`;
}
