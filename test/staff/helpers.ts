import assert from 'node:assert/strict';
import { systemContext } from '../../src/context.ts';
import type { StaffRole } from '../../src/store/staff.ts';
import { activeAccount, signedIn } from '../support/accounts.ts';
import type { Client } from '../support/http.ts';
import type { TestServer } from '../support/server.ts';

export const MFA_AMR = '["pwd","otp","mfa"]';

/** Every console role of the role test, and who is none. */
export type Who = 'anonymous' | 'member' | 'otherOrgAdmin' | 'ownOrgAdmin' | 'support' | 'admin';
export const WHO: readonly Who[] = ['anonymous', 'member', 'otherOrgAdmin', 'ownOrgAdmin', 'support', 'admin'];

export interface Person {
  id: string;
  username: string;
  email: string;
  password: string;
  client: Client;
}

export async function accountId(server: TestServer, username: string): Promise<string> {
  const row = await server.deps.db
    .selectFrom('accounts')
    .select('id')
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Marks every live session of the account as having proved a second factor (what f18's sign-in step records). */
export async function proveSecondFactor(server: TestServer, id: string): Promise<void> {
  await server.deps.db.updateTable('sessions').set({ amr: MFA_AMR }).where('account_id', '=', id).execute();
}

/** A confirmed TOTP row, so the account counts as enrolled (ADM-07). */
export async function enrolFactor(server: TestServer, id: string, name = 'Authenticator app'): Promise<void> {
  const now = Date.now();
  await server.deps.db
    .insertInto('second_factors')
    .values({
      id: `sf-${id}-${Math.random().toString(36).slice(2, 8)}`,
      account_id: id,
      kind: 'totp',
      name,
      created_at: now,
      confirmed_at: now,
      last_used_at: null,
      secret_enc: 'encrypted-secret-not-for-display',
      last_step: null,
      credential_id: null,
      public_key: null,
      sign_count: null,
      transports: null,
      flagged_at: null,
    })
    .execute();
}

/** An active account signed in through the API; `mfa` also marks its session multi-factor. */
export async function person(server: TestServer, o: { mfa?: boolean; prefix?: string } = {}): Promise<Person> {
  const a = await activeAccount(
    server,
    o.prefix ? { username: `${o.prefix}${Math.random().toString(36).slice(2, 7)}` } : {},
  );
  const id = await accountId(server, a.username);
  const client = await signedIn(server, a.username, a.password);
  if (o.mfa) await proveSecondFactor(server, id);
  return { id, ...a, client };
}

export async function makeStaff(server: TestServer, p: Person, role: StaffRole): Promise<void> {
  await server.deps.staffMembers.add(p.username, role, systemContext('test'));
  await enrolFactor(server, p.id);
}

export async function moveToOrg(server: TestServer, p: Person, slug: string): Promise<void> {
  const org = await server.deps.organizations.bySlug(slug);
  assert.ok(org);
  await server.deps.db.updateTable('accounts').set({ org_id: org.id }).where('id', '=', p.id).execute();
}

export async function ensureOrg(server: TestServer, slug: string): Promise<void> {
  if (!(await server.deps.organizations.bySlug(slug)))
    await server.deps.organizations.create({ slug, name: slug.toUpperCase() }, systemContext('test'));
}

/**
 * The cast of the role test: a member of `acme` (the target), an admin of another organization
 * (`globex`), an admin of `acme`, support and admin staff, each signed in with a second factor.
 */
export async function cast(server: TestServer) {
  await ensureOrg(server, 'acme');
  await ensureOrg(server, 'globex');
  const target = await person(server, { prefix: 'target' });
  await moveToOrg(server, target, 'acme');
  const member = await person(server, { mfa: true, prefix: 'member' });
  await moveToOrg(server, member, 'acme');
  const otherOrgAdmin = await person(server, { mfa: true, prefix: 'globexadm' });
  await moveToOrg(server, otherOrgAdmin, 'globex');
  await server.deps.organizations.addAdmin('globex', otherOrgAdmin.username, 'admin', systemContext('test'));
  const ownOrgAdmin = await person(server, { mfa: true, prefix: 'acmeadm' });
  await moveToOrg(server, ownOrgAdmin, 'acme');
  await server.deps.organizations.addAdmin('acme', ownOrgAdmin.username, 'admin', systemContext('test'));
  const support = await person(server, { mfa: true, prefix: 'support' });
  await makeStaff(server, support, 'support');
  const admin = await person(server, { mfa: true, prefix: 'admin' });
  await makeStaff(server, admin, 'admin');
  const clients: Record<Who, Client> = {
    anonymous: server.client(),
    member: member.client,
    otherOrgAdmin: otherOrgAdmin.client,
    ownOrgAdmin: ownOrgAdmin.client,
    support: support.client,
    admin: admin.client,
  };
  const ids: Record<Who, string | null> = {
    anonymous: null,
    member: member.id,
    otherOrgAdmin: otherOrgAdmin.id,
    ownOrgAdmin: ownOrgAdmin.id,
    support: support.id,
    admin: admin.id,
  };
  return { target, member, otherOrgAdmin, ownOrgAdmin, support, admin, clients, ids };
}

export async function forbiddenCount(server: TestServer, actorId: string): Promise<number> {
  const r = await server.deps.db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('event', '=', 'admin.forbidden')
    .where('actor_id', '=', actorId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * Every secret the database holds, and the link tokens and codes the mails carried: password
 * hashes, token and code hashes, encrypted factor secrets, session ids. Called before and after
 * a run, since ended sessions and used codes disappear.
 */
export async function collectSecrets(server: TestServer, into: Set<string>): Promise<void> {
  const db = server.deps.db;
  const add = (v: string | null | undefined) => {
    if (v && v.length >= 8) into.add(v);
  };
  for (const r of await db.selectFrom('accounts').select('password_hash').execute()) add(r.password_hash);
  for (const r of await db.selectFrom('sessions').select(['id', 'token_hash']).execute()) {
    add(r.id);
    add(r.token_hash);
  }
  for (const r of await db.selectFrom('recovery_codes').select(['token_hash', 'code_hash']).execute()) {
    add(r.token_hash);
    add(r.code_hash);
  }
  for (const r of await db.selectFrom('activations').select(['token_hash', 'code_hash']).execute()) {
    add(r.token_hash);
    add(r.code_hash);
  }
  for (const r of await db.selectFrom('mfa_recovery_codes').select('code_hash').execute()) add(r.code_hash);
  for (const r of await db.selectFrom('second_factors').select('secret_enc').execute()) add(r.secret_enc);
  for (const m of await db.selectFrom('dev_mailbox').select('body_text').execute()) {
    for (const t of m.body_text.matchAll(/token=([A-Za-z0-9_-]{16,})/g)) add(t[1]);
    for (const t of m.body_text.matchAll(/\b([A-Z0-9]{4}-[A-Z0-9]{4}|\d{6,8})\b/g)) add(t[1]);
  }
}
