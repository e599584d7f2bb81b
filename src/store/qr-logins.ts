import type { Kysely, Selectable } from 'kysely';
import type { Database, QrLoginStatus, QrLoginsTable } from './schema.ts';

// The qr_logins table. Every change of state is one conditional UPDATE that names the state it
// leaves, so of two racing processes exactly one sees its row change (approve once, redeem once).

export type QrLogin = Selectable<QrLoginsTable>;

export async function insertQrLogin(db: Kysely<Database>, row: QrLogin): Promise<void> {
  await db.insertInto('qr_logins').values(row).execute();
}

export function qrLoginById(db: Kysely<Database>, id: string): Promise<QrLogin | undefined> {
  return db.selectFrom('qr_logins').selectAll().where('id', '=', id).executeTakeFirst();
}

export function qrLoginBySecretHash(db: Kysely<Database>, secretHash: string): Promise<QrLogin | undefined> {
  return db.selectFrom('qr_logins').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
}

/** The live request a typed code names (codes of dead requests may repeat, so the newest live one). */
export function liveQrLoginByCodeHash(
  db: Kysely<Database>,
  codeHash: string,
  now: number,
): Promise<QrLogin | undefined> {
  return db
    .selectFrom('qr_logins')
    .selectAll()
    .where('code_hash', '=', codeHash)
    .where('expires_at', '>', now)
    .where('status', 'in', ['pending', 'shown'])
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
}

/**
 * Moves the request from one of `from` to `set.status` (with the other columns of `set`) when
 * `where` also holds; true when this call made the change.
 */
export async function moveQrLogin(
  db: Kysely<Database>,
  id: string,
  from: readonly QrLoginStatus[],
  set: Partial<QrLogin> & { status: QrLoginStatus },
  where: { notExpiredAt?: number; bindingHash?: string; secretHash?: string; accountIdOrNull?: string } = {},
): Promise<boolean> {
  let q = db
    .updateTable('qr_logins')
    .set(set)
    .where('id', '=', id)
    .where('status', 'in', [...from]);
  if (where.notExpiredAt !== undefined) q = q.where('expires_at', '>', where.notExpiredAt);
  if (where.bindingHash !== undefined) q = q.where('binding_hash', '=', where.bindingHash);
  if (where.secretHash !== undefined) q = q.where('secret_hash', '=', where.secretHash);
  const accountId = where.accountIdOrNull;
  if (accountId !== undefined)
    q = q.where((eb) => eb.or([eb('account_id', 'is', null), eb('account_id', '=', accountId)]));
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
