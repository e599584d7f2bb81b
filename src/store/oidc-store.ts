import type { Kysely, Selectable } from 'kysely';
import type { Database, OidcClientsTable, OidcKeysTable } from './schema.ts';

// The OpenID Provider's store, one module for both engines: oidc-provider's adapter (every model
// as a JSON payload row, found by id, grant, session uid or user code, expiry cleaned), the
// registered clients and the signing keys. Rows carry the account and grant ids, so "revoke every
// grant of this account" (OP-04) is two statements, and every process sees the same grants.

export type OidcClientRow = Selectable<OidcClientsTable>;
export type OidcKeyRow = Selectable<OidcKeysTable>;

/** oidc-provider's adapter interface (lib/adapters/memory_adapter.js). */
export interface OidcAdapter {
  upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Record<string, unknown> | undefined>;
  findByUid(uid: string): Promise<Record<string, unknown> | undefined>;
  findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The adapter for one model. `now` is the injected clock (ms). Clients are not payload rows: they
 * come from oidc_clients through `clientMetadata`.
 */
export function payloadAdapter(
  db: Kysely<Database>,
  model: string,
  now: () => number,
  clientMetadata: (row: OidcClientRow) => Record<string, unknown>,
): OidcAdapter {
  const live = (row: { payload: string; expires_at: number | null; consumed_at: number | null } | undefined) => {
    if (!row || (row.expires_at !== null && row.expires_at <= now())) return undefined;
    const payload = JSON.parse(row.payload) as Record<string, unknown>;
    if (row.consumed_at !== null) payload.consumed = Math.floor(row.consumed_at / 1000);
    return payload;
  };
  const select = () =>
    db.selectFrom('oidc_payloads').select(['payload', 'expires_at', 'consumed_at']).where('model', '=', model);
  return {
    async upsert(id, payload, expiresIn) {
      const row = {
        payload: JSON.stringify(payload),
        grant_id: str(payload.grantId),
        account_id: str(payload.accountId),
        client_id: str(payload.clientId),
        uid: str(payload.uid),
        user_code: str(payload.userCode),
        expires_at: typeof expiresIn === 'number' ? now() + expiresIn * 1000 : null,
      };
      await db
        .insertInto('oidc_payloads')
        .values({ model, id, consumed_at: null, ...row })
        .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(row))
        .execute();
    },
    async find(id) {
      if (model === 'Client') {
        const c = await db.selectFrom('oidc_clients').selectAll().where('id', '=', id).executeTakeFirst();
        return c ? clientMetadata(c) : undefined;
      }
      return live(await select().where('id', '=', id).executeTakeFirst());
    },
    async findByUid(uid) {
      return live(await select().where('uid', '=', uid).executeTakeFirst());
    },
    async findByUserCode(userCode) {
      return live(await select().where('user_code', '=', userCode).executeTakeFirst());
    },
    async consume(id) {
      await db
        .updateTable('oidc_payloads')
        .set({ consumed_at: now() })
        .where('model', '=', model)
        .where('id', '=', id)
        .execute();
    },
    async destroy(id) {
      await db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute();
    },
    async revokeByGrantId(grantId) {
      await revokeGrants(db, [grantId]);
    },
  };
}

/** Deletes the grants and every code and token issued under them. */
export async function revokeGrants(db: Kysely<Database>, grantIds: string[]): Promise<void> {
  if (!grantIds.length) return;
  await db.deleteFrom('oidc_payloads').where('grant_id', 'in', grantIds).execute();
  await db.deleteFrom('oidc_payloads').where('model', '=', 'Grant').where('id', 'in', grantIds).execute();
}

/** The account's live grants: their ids and clients (for /settings and OP-04). */
export async function accountGrants(
  db: Kysely<Database>,
  accountId: string,
  now: number,
): Promise<{ grantId: string; clientId: string; payload: string }[]> {
  const rows = await db
    .selectFrom('oidc_payloads')
    .select(['id', 'client_id', 'payload'])
    .where('model', '=', 'Grant')
    .where('account_id', '=', accountId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .execute();
  return rows.map((r) => ({ grantId: r.id, clientId: r.client_id ?? '', payload: r.payload }));
}

/** The account's provider sessions (their ids and payloads), for back-channel logout `sid`s. */
export async function accountOpSessions(
  db: Kysely<Database>,
  accountId: string,
): Promise<{ id: string; payload: string }[]> {
  return db
    .selectFrom('oidc_payloads')
    .select(['id', 'payload'])
    .where('model', '=', 'Session')
    .where('account_id', '=', accountId)
    .execute();
}

/**
 * Everything the provider holds for the account: grants, codes, tokens and provider sessions,
 * so nothing issued before stays usable and no new code is issued without signing in again.
 */
export async function deleteAccountPayloads(
  db: Kysely<Database>,
  accountId: string,
  grantIds: string[],
): Promise<void> {
  await revokeGrants(db, grantIds);
  await db.deleteFrom('oidc_payloads').where('account_id', '=', accountId).execute();
}

/** The clients among `ids` that registered a back-channel logout URI. */
export async function clientsWithBackchannel(db: Kysely<Database>, ids: string[]): Promise<string[]> {
  if (!ids.length) return [];
  const rows = await db
    .selectFrom('oidc_clients')
    .select('id')
    .where('id', 'in', ids)
    .where('backchannel_logout_uri', 'is not', null)
    .execute();
  return rows.map((r) => r.id);
}

/** Removes expired rows; returns how many. */
export async function deleteExpiredPayloads(db: Kysely<Database>, now: number): Promise<number> {
  const r = await db.deleteFrom('oidc_payloads').where('expires_at', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}

// --- clients

export async function insertClient(db: Kysely<Database>, row: OidcClientRow): Promise<void> {
  await db.insertInto('oidc_clients').values(row).execute();
}

export async function listClients(db: Kysely<Database>): Promise<OidcClientRow[]> {
  return db.selectFrom('oidc_clients').selectAll().orderBy('created_at').execute();
}

export async function findClient(db: Kysely<Database>, id: string): Promise<OidcClientRow | undefined> {
  return db.selectFrom('oidc_clients').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateClient(
  db: Kysely<Database>,
  id: string,
  set: Partial<Omit<OidcClientRow, 'id' | 'created_at'>>,
): Promise<boolean> {
  const r = await db.updateTable('oidc_clients').set(set).where('id', '=', id).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Removes the client and everything issued to it. */
export async function deleteClient(db: Kysely<Database>, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('oidc_payloads').where('client_id', '=', id).execute();
    const r = await trx.deleteFrom('oidc_clients').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  });
}

// --- signing keys

export async function listKeys(db: Kysely<Database>): Promise<OidcKeyRow[]> {
  return db.selectFrom('oidc_keys').selectAll().orderBy('created_at', 'desc').execute();
}

export async function insertKey(db: Kysely<Database>, row: OidcKeyRow): Promise<void> {
  await db.insertInto('oidc_keys').values(row).execute();
}

/** Marks every current key retired (a newer one takes over) and drops those retired before `dropBefore`. */
export async function retireKeys(
  db: Kysely<Database>,
  exceptKid: string,
  now: number,
  dropBefore: number,
): Promise<void> {
  await db
    .updateTable('oidc_keys')
    .set({ retired_at: now })
    .where('retired_at', 'is', null)
    .where('kid', '!=', exceptKid)
    .execute();
  await db.deleteFrom('oidc_keys').where('retired_at', '<', dropBefore).execute();
}
