import type { Kysely, Selectable } from 'kysely';
import type { AccountsTable, Database } from './schema.ts';

export type Account = Selectable<AccountsTable>;

// Identifiers: a username never contains '@', so "username or email" is never ambiguous.
const USERNAME = /^[\p{L}\p{N}._-]{3,32}$/u;
const EMAIL = /^[^\s@\p{C}]{1,64}@[^\s@\p{C}]+\.[^\s@\p{C}]{2,}$/u;

/** Usernames are unique case-insensitively and by compatibility form (NFKC). */
export function usernameKey(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

export function validUsername(username: string): boolean {
  return USERNAME.test(username.normalize('NFKC'));
}

/** Trims and lower-cases the domain (the local part keeps its case for display). */
export function normalizeEmail(email: string): string {
  const trimmed = email.trim();
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return trimmed;
  return `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`;
}

/** Uniqueness and lookup ignore case entirely: Bob@x and bob@x are one mailbox in practice. */
export function emailKey(email: string): string {
  return normalizeEmail(email).toLowerCase();
}

export function validEmail(email: string): boolean {
  const e = normalizeEmail(email);
  return e.length <= 254 && EMAIL.test(e);
}

export async function findAccountByIdentifier(db: Kysely<Database>, identifier: string): Promise<Account | undefined> {
  const id = identifier.trim();
  if (!id || id.length > 254) return undefined;
  const q = db.selectFrom('accounts').selectAll();
  return id.includes('@')
    ? q.where('email_key', '=', emailKey(id)).executeTakeFirst()
    : q.where('username_key', '=', usernameKey(id)).executeTakeFirst();
}

export async function findAccount(db: Kysely<Database>, id: string): Promise<Account | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * A new account row: the caller gives what it knows, every other column starts empty. The one
 * place the row's shape is spelled out, so registration and external sign-in cannot drift apart.
 */
export function newAccountRow(
  fields: Pick<Account, 'id' | 'org_id' | 'username' | 'email' | 'status' | 'password_hash' | 'created_at'> &
    Partial<Pick<Account, 'display_name' | 'activated_at' | 'password_changed_at'>>,
): Account {
  const email = fields.email === null ? null : normalizeEmail(fields.email);
  return {
    display_name: null,
    activated_at: null,
    password_changed_at: null,
    ...fields,
    username: fields.username.normalize('NFKC'),
    username_key: usernameKey(fields.username),
    email,
    email_key: email === null ? null : emailKey(email),
    phone: null,
    phone_verified_at: null,
    is_staff: 0,
    flagged_at: null,
    flag_reason: null,
    updated_at: fields.created_at,
  };
}
