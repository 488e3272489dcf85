import type { Knex } from 'knex';

/**
 * A column a projection writes in bulk: its name and its type, as the server reads the column's
 * array. `jsonb` columns travel as JSON text (the row values hold them serialised).
 */
export interface RecordsetColumn<Row> {
  name: keyof Row & string;
  type: 'uuid' | 'text' | 'bigint' | 'integer' | 'boolean' | 'timestamptz' | 'jsonb';
}

/** Rows per statement: bounds one statement's arrays (a few MB) whatever the batch size. */
const ROWS_PER_STATEMENT = 5000;

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Inserts `rows` into `table` with one statement per few thousand rows and one array parameter per
 * column, unpacked on the server by `unnest`. A multi-row VALUES insert costs a bind parameter per
 * cell, and building and encoding those took most of a rebuild's CPU; `json_to_recordset` is
 * cheaper to send but costs the server twice as much to unpack. `onConflict` is the statement's
 * conflict clause, given the table's quoted name (`excluded` names the proposed row).
 */
export async function insertRecordset<Row>(
  trx: Knex.Transaction,
  table: string,
  columns: readonly RecordsetColumn<Row>[],
  rows: readonly Row[],
  onConflict: (quotedTable: string) => string,
): Promise<void> {
  const quoted = ident(table);
  const names = columns.map((c) => ident(c.name)).join(', ');
  const arrays = columns.map((c) => `?::${c.type}[]`).join(', ');
  const sql = `insert into ${quoted} (${names}) select * from unnest(${arrays}) ${onConflict(quoted)}`;
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    // node-postgres sends each array as an array literal, nulls as NULL; knex's Value type only
    // lists arrays without nulls.
    await trx.raw(
      sql,
      columns.map((c) => chunk.map((row) => row[c.name]) as unknown as string[]),
    );
  }
}

/**
 * The order or product ids among `events` whose first event here is not their stream's first: only
 * those can depend on rows written before this batch. (Events of one stream arrive contiguous and in
 * revision order, so a stream starting at revision 0 here is folded whole from this batch.)
 */
export function continuingStreams<E extends { revision: bigint }>(events: readonly E[], keyOf: (event: E) => string): string[] {
  const first = new Map<string, bigint>();
  for (const event of events) {
    const key = keyOf(event);
    if (!first.has(key)) first.set(key, event.revision);
  }
  return [...first].filter(([, revision]) => revision > 0n).map(([key]) => key);
}
