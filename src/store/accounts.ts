import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.ts';
import {
  identifierLookup,
  normalizeEmail,
  trimSpaces,
  USERNAME_CONFUSABLE,
  type UsernameForms,
  usernameKey,
  usernameSkeleton,
  usernameTaken,
} from '../security/identifiers.ts';
import { compiledQuery } from './compiled-query.ts';
import type { AccountsTable, Database } from './schema.ts';

export type Account = Selectable<AccountsTable>;

// Identifiers are normalised in src/security/identifiers.ts (ID-01, ID-02); these names stay for
// the callers that only need a key or a yes/no. A username never contains '@', so "username or
// email" is never ambiguous.
export { emailKey, normalizeEmail, usernameKey, validUsername } from '../security/identifiers.ts';

export function validEmail(email: string): boolean {
  return normalizeEmail(email) !== undefined;
}

/** The account an identifier names, by its normalised key: every spelling finds the same one. */
export async function findAccountByIdentifier(db: Kysely<Database>, identifier: string): Promise<Account | undefined> {
  const id = trimSpaces(identifier).normalize('NFKC');
  if (!id || id.length > 254) return undefined;
  const { column, key } = identifierLookup(id);
  return key === undefined
    ? undefined
    : db.selectFrom('accounts').selectAll().where(column, '=', key).executeTakeFirst();
}

/**
 * Refuses a username that is taken (same key: 409) or looks like a taken one (same skeleton: 400),
 * other than the account `except`'s own. One indexed look-up; the unique indexes on both columns
 * settle a race between two of them, and the loser calls this again to get its answer.
 */
export async function refuseUsernameClash(
  db: Kysely<Database>,
  forms: Pick<UsernameForms, 'key' | 'skeleton'>,
  except?: string,
): Promise<void> {
  let q = db
    .selectFrom('accounts')
    .select('username_key')
    .where((eb) => eb.or([eb('username_key', '=', forms.key), eb('username_skeleton', '=', forms.skeleton)]));
  if (except !== undefined) q = q.where('id', '!=', except);
  const rows = await q.execute();
  if (rows.some((r) => r.username_key === forms.key))
    throw new AppError('conflict', usernameTaken(), {
      fields: [{ field: 'username', code: 'taken', message: usernameTaken() }],
    });
  if (rows.length) throw new AppError('validation_failed', undefined, { fields: [USERNAME_CONFUSABLE] });
}

export async function findAccount(db: Kysely<Database>, id: string): Promise<Account | undefined> {
  return (await accountById(db, id)).rows[0];
}

// compiled once: every second-factor step and many other flows read an account by id
const accountById = compiledQuery((db, id: string) => db.selectFrom('accounts').selectAll().where('id', '=', id));

/**
 * A new account row: the caller gives what it knows, every other column starts empty. The one
 * place the row's shape is spelled out, so registration and external sign-in cannot drift apart.
 */
export function newAccountRow(
  fields: Pick<Account, 'id' | 'org_id' | 'username' | 'email' | 'status' | 'password_hash' | 'created_at'> &
    Partial<Pick<Account, 'display_name' | 'activated_at' | 'password_changed_at'>>,
): Account {
  // Callers have checked the address; what is stored, compared and mailed to is its normal form.
  const email = fields.email === null ? null : normalizeEmail(fields.email);
  if (email === undefined) throw new Error('newAccountRow: the email address does not normalise');
  const username = trimSpaces(fields.username).normalize('NFKC');
  return {
    display_name: null,
    activated_at: null,
    password_changed_at: null,
    ...fields,
    username,
    username_key: usernameKey(username),
    username_skeleton: usernameSkeleton(username),
    email,
    email_key: email,
    phone: null,
    phone_verified_at: null,
    is_staff: 0,
    flagged_at: null,
    flag_reason: null,
    deletion_requested_at: null,
    deletion_due_at: null,
    deleted_at: null,
    locale: null,
    updated_at: fields.created_at,
  };
}

/** Puts the verified, normalised address on the account (ID-01); the unique index refuses a taken one. */
export async function setAccountEmail(db: Kysely<Database>, id: string, email: string, now: number): Promise<void> {
  await db.updateTable('accounts').set({ email, email_key: email, updated_at: now }).where('id', '=', id).execute();
}

/** Puts a checked username with its key and skeleton on the account (ID-02); unique indexes settle races. */
export async function setAccountUsername(
  db: Kysely<Database>,
  id: string,
  forms: UsernameForms,
  now: number,
): Promise<void> {
  await db
    .updateTable('accounts')
    .set({ username: forms.username, username_key: forms.key, username_skeleton: forms.skeleton, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/** Whether an error is a unique-index refusal (on either engine). */
export function isUniqueViolation(err: unknown): boolean {
  return /unique|duplicate/i.test(String((err as Error)?.message));
}
