import type { Insertable, Kysely, Selectable } from 'kysely';
import { insertRow } from './insert-row.ts';
import type { AuditLogTable, Database } from './schema.ts';

// The audit_log table, append-only (LOG-01). What may go into a row (LOG-02) is decided in
// src/security/audit.ts.

export type AuditRow = Selectable<AuditLogTable>;

/** Appends one record; the insert is compiled once (it runs on every sign-in). */
export function insertAuditRow(db: Kysely<Database>, row: Insertable<AuditLogTable>): Promise<void> {
  return insertRow(db, 'audit_log', row);
}

/** The account's latest records of the given events, newest first, at most `limit`. */
export function recentAuditEvents(
  db: Kysely<Database>,
  accountId: string,
  events: readonly string[],
  limit: number,
): Promise<Pick<AuditRow, 'at' | 'event' | 'ip' | 'user_agent' | 'details'>[]> {
  return db
    .selectFrom('audit_log')
    .select(['at', 'event', 'ip', 'user_agent', 'details'])
    .where('account_id', '=', accountId)
    .where('event', 'in', events)
    .orderBy('at', 'desc')
    .limit(limit)
    .execute();
}
