import type { Kysely } from 'kysely';
import type { Account } from './accounts.ts';
import type { Database } from './schema.ts';

// The SQL of self-service account deletion (src/flows/profile/deletion.ts has the rules): the
// pending request on the account row, and the removal of the account's data once it is due.

/** Marks the account for deletion at `dueAt`. */
export async function markDeletion(db: Kysely<Database>, id: string, now: number, dueAt: number): Promise<void> {
  await db
    .updateTable('accounts')
    .set({ deletion_requested_at: now, deletion_due_at: dueAt, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .execute();
}

/** Cancels a pending deletion; true when there was one (exactly one of concurrent callers wins). */
export async function clearDeletion(db: Kysely<Database>, id: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('accounts')
    .set({ deletion_requested_at: null, deletion_due_at: null, updated_at: now })
    .where('id', '=', id)
    .where('deletion_due_at', 'is not', null)
    .where('status', '!=', 'deleted')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Tables whose rows belong to one account and go with it. A feature that adds a table keyed by
 * account_id adds it here (or to ACCOUNT_TABLES_KEPT), so deletion leaves none of its rows behind;
 * test/profile/deletion.test.ts checks the schema against both lists.
 */
export const ACCOUNT_TABLES = [
  'sessions',
  'activations',
  'recovery_codes',
  'external_identities',
  'second_factors',
  'mfa_recovery_codes',
  'password_changes',
  'org_members',
  'pending_sign_ins',
  'mfa_trusted_devices',
  'webauthn_challenges',
  'qr_logins',
  'staff_roles',
  // OpenID Provider grants, codes, tokens and provider sessions
  'oidc_payloads',
] as const;

/** Tables with an account_id whose rows stay, anonymised or closed by `purgeIfDue` itself. */
export const ACCOUNT_TABLES_KEPT = ['audit_log', 'support_requests', 'review_items'] as const;

/**
 * Removes the account's data if its deletion is due at `now` (and was not cancelled): every row
 * of ACCOUNT_TABLES, its failure counter, every personal field of the account row (which stays,
 * empty, with status 'deleted', so references to its id stay valid), and the IP, user agent and
 * details of its audit events (the events themselves stay: an anonymised trail). Returns the
 * account as it was, or undefined when nothing was due. Runs in the caller's transaction.
 */
export async function purgeIfDue(db: Kysely<Database>, id: string, now: number): Promise<Account | undefined> {
  const before = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!before || before.status === 'deleted' || before.deletion_due_at === null || before.deletion_due_at > now)
    return undefined;
  const emptied = await db
    .updateTable('accounts')
    .set({
      // ':' is never in a username, so the old name (and its look-alikes) are free again.
      username: 'deleted',
      username_key: `deleted:${id}`,
      username_skeleton: null,
      email: null,
      email_key: null,
      status: 'deleted',
      password_hash: null,
      display_name: null,
      phone: null,
      phone_verified_at: null,
      flagged_at: null,
      flag_reason: null,
      deletion_due_at: null,
      deleted_at: now,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('deletion_due_at', '=', before.deletion_due_at)
    .where('status', '!=', 'deleted')
    .executeTakeFirst();
  if (Number(emptied.numUpdatedRows) !== 1) return undefined;
  // Provider rows issued under one of the account's grants may not carry the account id.
  const grants = db.selectFrom('oidc_payloads').select('id').where('model', '=', 'Grant').where('account_id', '=', id);
  const grantIds = (await grants.execute()).map((g) => g.id);
  if (grantIds.length) await db.deleteFrom('oidc_payloads').where('grant_id', 'in', grantIds).execute();
  for (const table of ACCOUNT_TABLES) await db.deleteFrom(table).where('account_id', '=', id).execute();
  // Support requests (sup20): the conversation and the addresses go; the queue keeps an
  // anonymous history, its open items about the account closed.
  const requests = db.selectFrom('support_requests').select('id').where('account_id', '=', id);
  await db.deleteFrom('support_messages').where('request_id', 'in', requests).execute();
  await db
    .updateTable('support_requests')
    .set({ identifier: 'deleted', contact: 'deleted', ip: null, user_agent: null, status: 'closed', updated_at: now })
    .where('account_id', '=', id)
    .execute();
  await db
    .updateTable('review_items')
    .set({ resolved_at: now, outcome: 'account_deleted', open_key: null })
    .where('account_id', '=', id)
    .where('resolved_at', 'is', null)
    .execute();
  // Failure runs are kept under the sign-in identifier's key or the account id.
  const keys = [`account:${id}`, before.username_key, ...(before.email_key ? [before.email_key] : [])];
  await db.deleteFrom('sign_in_failures').where('key', 'in', keys).execute();
  await db
    .updateTable('audit_log')
    .set({ ip: null, user_agent: null, details: null })
    .where((eb) => eb.or([eb('account_id', '=', id), eb('actor_id', '=', id)]))
    .execute();
  // Delivered messages keep only their recipient (bodies are scrubbed once sent): forget it too;
  // undelivered ones to the account have no one to go to any more. Same for the dev mailbox.
  const addresses = [before.email, before.phone].filter((a): a is string => a !== null);
  if (addresses.length) {
    await db.deleteFrom('outbox').where('recipient', 'in', addresses).where('status', '=', 'pending').execute();
    await db
      .updateTable('outbox')
      .set({ recipient: 'deleted', subject: '', body_text: '', body_html: '' })
      .where('recipient', 'in', addresses)
      .execute();
    await db.deleteFrom('dev_mailbox').where('recipient', 'in', addresses).execute();
  }
  return before;
}
