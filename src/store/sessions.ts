import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import type { Account } from './accounts.ts';
import { insertRow } from './insert-row.ts';
import { ACCOUNT_COLUMNS, fromColumns } from './row-columns.ts';
import type { Database, SessionsTable } from './schema.ts';

// The sessions table: one row per signed-in browser, found by the SHA-256 of its cookie token.
// What a session may do, and when it ends, is policy and lives in src/flows/sessions/.

export type Session = Selectable<SessionsTable>;

// Every column of the table, in a fixed order: the lookup answers arrays in this order (the
// account's after it, ACCOUNT_COLUMNS). A column added stops these lines compiling until listed.
const SESSION_COLUMNS = Object.keys({
  id: 1,
  account_id: 1,
  token_hash: 1,
  created_at: 1,
  last_seen_at: 1,
  expires_at: 1,
  auth_at: 1,
  method: 1,
  ip: 1,
  user_agent: 1,
  amr: 1,
} satisfies Record<keyof Session, 1>) as (keyof Session)[];

/**
 * Session + account by token hash, compiled once, for Store.preparedRead; the hash is its only
 * parameter. Each row it answers is an array; `sessionLookupRow` makes the objects of one.
 */
export function sessionLookupQuery(db: Kysely<Database>): CompiledQuery {
  return db
    .selectFrom('sessions')
    .innerJoin('accounts', 'accounts.id', 'sessions.account_id')
    .select([
      ...SESSION_COLUMNS.map((c) => `sessions.${c}` as const),
      ...ACCOUNT_COLUMNS.map((c) => `accounts.${c}` as const),
    ])
    .where('sessions.token_hash', '=', '')
    .compile();
}

/** The session and account of one row answered by `sessionLookupQuery`. */
export function sessionLookupRow(row: readonly unknown[]): { session: Session; account: Account } {
  return {
    session: fromColumns<Session>(row, 0, SESSION_COLUMNS),
    account: fromColumns<Account>(row, SESSION_COLUMNS.length, ACCOUNT_COLUMNS),
  };
}

/** Stores a new session; the insert is compiled once (it runs on every sign-in). */
export function insertSession(db: Kysely<Database>, session: Session): Promise<void> {
  return insertRow(db, 'sessions', session);
}

/** Records that the session was used at `now`. */
export async function touchSession(db: Kysely<Database>, id: string, now: number): Promise<void> {
  await db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
}

/** Gives the session a new token hash: the old token stops working. */
export async function setSessionTokenHash(db: Kysely<Database>, id: string, tokenHash: string): Promise<void> {
  await db.updateTable('sessions').set({ token_hash: tokenHash }).where('id', '=', id).execute();
}

/** The account's sessions neither past `expiresAfter` nor idle since `seenAfter`, last used first. */
export function listLiveSessions(
  db: Kysely<Database>,
  accountId: string,
  expiresAfter: number,
  seenAfter: number,
): Promise<Session[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('expires_at', '>', expiresAfter)
    .where('last_seen_at', '>', seenAfter)
    .orderBy('last_seen_at', 'desc')
    .execute();
}

/** Ends one session by id. */
export async function endSession(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', id).execute();
}

/** Ends one session only if it belongs to the account; false when there was no such session. */
export async function endAccountSession(db: Kysely<Database>, accountId: string, id: string): Promise<boolean> {
  const res = await db
    .deleteFrom('sessions')
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Ends every session of the account except `keepId`; returns how many ended. */
export async function endAccountSessions(db: Kysely<Database>, accountId: string, keepId?: string): Promise<number> {
  let q = db.deleteFrom('sessions').where('account_id', '=', accountId);
  if (keepId) q = q.where('id', '!=', keepId);
  const res = await q.executeTakeFirst();
  return Number(res.numDeletedRows);
}
