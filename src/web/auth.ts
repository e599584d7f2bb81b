import type { Selectable } from 'kysely';
import type { Account } from '../store/accounts.ts';
import type { SessionsTable } from '../store/schema.ts';

/** A request's signed-in account and the session that proves it. */
export interface Authenticated {
  session: Selectable<SessionsTable>;
  account: Account;
}
