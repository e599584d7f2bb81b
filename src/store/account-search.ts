import { type Kysely, sql } from 'kysely';
import type { Engine } from './db.ts';
import type { Database } from './schema.ts';

// Account search for the staff console: exact and prefix matches on one normalised key column,
// each an index range scan (migration 008), so it costs the same at 100 accounts or 100k.

export type SearchColumn = 'username_key' | 'email_key' | 'phone';

export const SEARCH_FIELDS = [
  'id',
  'org_id',
  'username',
  'email',
  'phone',
  'status',
  'created_at',
  'flagged_at',
  'is_staff',
] as const;

/** The highest code point: every string starting with `p` sorts below `p + MAX` in binary order. */
const MAX = String.fromCodePoint(0x10ffff);

/**
 * Accounts whose `column` equals `key` (exact) or starts with it (prefix), in key order, at most
 * `limit`, optionally only within `orgIds`. A prefix is a range [p, p + U+10FFFF) in bytewise
 * order: SQLite's BINARY collation, PostgreSQL's "C" (migration 008 indexes both that way), so
 * the range and the order come from one index scan that stops after `limit` rows. No pattern
 * syntax is involved, so `%` and `_` in a search are plain characters.
 */
export async function searchAccounts(
  db: Kysely<Database>,
  engine: Engine,
  column: SearchColumn,
  key: string,
  o: { exact: boolean; limit: number; orgIds: readonly string[] | null },
) {
  if (o.orgIds && o.orgIds.length === 0) return [];
  const col = engine === 'postgres' ? sql<string>`${sql.ref(column)} collate "C"` : sql<string>`${sql.ref(column)}`;
  let q = db.selectFrom('accounts').select(SEARCH_FIELDS);
  if (o.exact) q = q.where(column, '=', key);
  else q = q.where(col, '>=', key).where(col, '<', key + MAX);
  if (o.orgIds) q = q.where('org_id', 'in', o.orgIds);
  return q.orderBy(col).limit(o.limit).execute();
}
