import type { Account } from './accounts.ts';

// Rows answered as arrays (Store.preparedRead) and turned back into objects: each table's
// columns in a fixed order. A column added to a table stops its list compiling until it is
// listed, so a lookup can never silently drop one.

export const ACCOUNT_COLUMNS = Object.keys({
  id: 1,
  org_id: 1,
  username: 1,
  username_key: 1,
  username_skeleton: 1,
  email: 1,
  email_key: 1,
  status: 1,
  password_hash: 1,
  display_name: 1,
  phone: 1,
  phone_verified_at: 1,
  is_staff: 1,
  flagged_at: 1,
  flag_reason: 1,
  created_at: 1,
  updated_at: 1,
  activated_at: 1,
  password_changed_at: 1,
  deletion_requested_at: 1,
  deletion_due_at: 1,
  deleted_at: 1,
  locale: 1,
} satisfies Record<keyof Account, 1>) as (keyof Account)[];

/** The object of `columns` read from `row` starting at `offset`. */
export function fromColumns<T>(row: readonly unknown[], offset: number, columns: readonly (keyof T)[]): T {
  const out = {} as Record<keyof T, unknown>;
  for (let i = 0; i < columns.length; i++) out[columns[i] as keyof T] = row[offset + i];
  return out as T;
}
