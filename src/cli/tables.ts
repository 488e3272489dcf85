import type { Knex } from 'knex';

/** Catalog look-ups shared by verify and rebuild. `relation` is a quoted SQL name: `rel('orders')`. */

export async function tableExists(db: Knex | Knex.Transaction, relation: string): Promise<boolean> {
  const result = await db.raw<{ rows: { oid: string | null }[] }>('select to_regclass(?)::text as oid', [relation]);
  return result.rows[0]?.oid != null;
}

export async function primaryKeyColumns(db: Knex | Knex.Transaction, relation: string): Promise<string[]> {
  const result = await db.raw<{ rows: { name: string }[] }>(
    `select a.attname as name
       from pg_index i
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
      where i.indrelid = to_regclass(?) and i.indisprimary
      order by array_position(i.indkey::int2[], a.attnum)`,
    [relation],
  );
  return result.rows.map((r) => r.name);
}

export async function hasColumn(db: Knex | Knex.Transaction, relation: string, column: string): Promise<boolean> {
  const result = await db.raw<{ rows: unknown[] }>('select 1 from pg_attribute where attrelid = to_regclass(?) and attname = ? and attnum > 0 and not attisdropped', [
    relation,
    column,
  ]);
  return result.rows.length > 0;
}

export interface IndexInfo {
  name: string;
  /** The definition without the index's and the table's names, so copies compare equal. */
  shape: string;
}

export async function indexesOf(db: Knex | Knex.Transaction, relation: string): Promise<IndexInfo[]> {
  const result = await db.raw<{ rows: { name: string; def: string }[] }>(
    `select c.relname as name, pg_get_indexdef(i.indexrelid) as def
       from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = to_regclass(?)
      order by c.relname`,
    [relation],
  );
  return result.rows.map((row) => ({ name: row.name, shape: indexShape(row.def) }));
}

/** `CREATE UNIQUE INDEX x ON public.t USING btree (id)` → `UNIQUE USING btree (id)`. */
export function indexShape(definition: string): string {
  const match = /^CREATE (UNIQUE )?INDEX (?:"(?:[^"]|"")+"|\S+) ON (?:ONLY )?(?:(?:"(?:[^"]|"")+"|[^\s."]+)\.)?(?:"(?:[^"]|"")+"|\S+) (.*)$/s.exec(definition);
  return match ? `${match[1] ?? ''}${match[2] ?? ''}` : definition;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A quoted, optionally schema-qualified relation name. */
export function rel(table: string, schema?: string): string {
  return schema ? `${quoteIdent(schema)}.${quoteIdent(table)}` : quoteIdent(table);
}
