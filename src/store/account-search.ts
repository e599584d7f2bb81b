import type { Kysely } from 'kysely';
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

/** `LIKE` with the pattern characters of `s` taken literally (escape character `\`). */
function likePrefix(s: string): string {
  return `${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Accounts whose `column` equals `key` (exact) or starts with it (prefix), in key order, at most
 * `limit`, optionally only within `orgIds`. SQLite compares text bytewise (BINARY), so a prefix is
 * a range on the index; PostgreSQL's `LIKE 'p%'` uses the text_pattern_ops index whatever the
 * database's collation.
 */
export async function searchAccounts(
  db: Kysely<Database>,
  engine: Engine,
  column: SearchColumn,
  key: string,
  o: { exact: boolean; limit: number; orgIds: readonly string[] | null },
) {
  if (o.orgIds && o.orgIds.length === 0) return [];
  let q = db.selectFrom('accounts').select(SEARCH_FIELDS);
  if (o.exact) q = q.where(column, '=', key);
  else if (engine === 'postgres') q = q.where(column, 'like', likePrefix(key));
  else q = q.where(column, '>=', key).where(column, '<', key + MAX);
  if (o.orgIds) q = q.where('org_id', 'in', o.orgIds);
  return q.orderBy(column).limit(o.limit).execute();
}
