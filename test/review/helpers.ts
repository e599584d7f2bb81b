import assert from 'node:assert/strict';
import { systemContext } from '../../src/context.ts';
import { newId } from '../../src/security/random.ts';
import { emailKey, usernameKey } from '../../src/store/accounts.ts';
import { defaultOrgId } from '../../src/store/organizations.ts';
import { openReviewItem } from '../../src/store/review-items.ts';
import type { Client } from '../support/http.ts';
import type { TestServer } from '../support/server.ts';
import type { ReceivedMail } from '../support/smtp.ts';

export const PASSWORD = 'Correct-Horse-Battery-9';

/** Active accounts written straight into the store, in `orgId` (default: the default organization). */
export async function makeAccounts(server: TestServer, names: string[], orgId?: string): Promise<void> {
  const d = server.deps;
  const hash = await d.hasher.hash(PASSWORD);
  const org = orgId ?? (await defaultOrgId(d));
  const now = d.clock.now();
  await d.db
    .insertInto('accounts')
    .values(
      names.map((name) => ({
        id: newId(d.random),
        org_id: org,
        username: name,
        username_key: usernameKey(name),
        email: `${name}@example.test`,
        email_key: emailKey(`${name}@example.test`),
        status: 'active' as const,
        password_hash: hash,
        display_name: null,
        phone: null,
        phone_verified_at: null,
        is_staff: 0,
        flagged_at: null,
        flag_reason: null,
        created_at: now,
        updated_at: now,
        activated_at: now,
        password_changed_at: now,
      })),
    )
    .execute();
}

export async function accountId(server: TestServer, username: string): Promise<string> {
  const row = await server.deps.db
    .selectFrom('accounts')
    .select('id')
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * A signed-in client whose session counts as multi-factor (ADM-07), as if the second-factor step
 * had been passed: the second-factor sign-in itself is another branch's and tested there.
 */
export async function consoleClient(server: TestServer, username: string, mfa = true): Promise<Client> {
  const c = server.client();
  const r = await c.post('/api/v1/sessions', { identifier: username, password: PASSWORD });
  assert.equal(r.status, 201, r.text);
  if (mfa)
    await server.deps.db
      .updateTable('sessions')
      .set({ amr: JSON.stringify(['pwd', 'otp', 'mfa']) })
      .where('account_id', '=', await accountId(server, username))
      .execute();
  return c;
}

export async function grantStaff(server: TestServer, username: string, role: 'support' | 'admin'): Promise<void> {
  await server.deps.staffMembers.add(username, role, systemContext());
}

export async function makeOrg(server: TestServer, slug: string): Promise<string> {
  return (await server.deps.organizations.create({ slug, name: slug }, systemContext())).id;
}

/** The status link and reference of the acknowledgement mailed to `to`. */
export function statusLinkIn(mail: ReceivedMail): { path: string; id: string; sig: string; ref: string } {
  const m = /(\/support\/requests\/([A-Za-z0-9_-]+)\?sig=([A-Za-z0-9_-]+))/.exec(mail.text);
  const ref = /SR-[A-Z0-9]{8}\b/.exec(mail.text)?.[0];
  assert.ok(m && ref, 'status link and reference in the mail');
  return { path: m[1] as string, id: m[2] as string, sig: m[3] as string, ref };
}

/**
 * A support request about `accountId` as the filing job leaves it (request, first message, open
 * queue item), without the form, CAPTCHA and limits; returns the queue item's id.
 */
export async function seedSupportRequest(
  server: TestServer,
  accountId: string | null,
  contact = 'seeded@contact.test',
) {
  const d = server.deps;
  const id = newId(d.random);
  const now = d.clock.now();
  await d.db
    .insertInto('support_requests')
    .values({
      id,
      ref: `SR-SEED${id.slice(0, 4).toUpperCase()}`,
      identifier: 'as typed',
      account_id: accountId,
      org_id: null,
      contact,
      status: 'open',
      ip: null,
      user_agent: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await d.db
    .insertInto('support_messages')
    .values({ id: newId(d.random), request_id: id, author: 'user', staff_id: null, body: 'help', created_at: now })
    .execute();
  const item = await openReviewItem(d, { kind: 'support_request', accountId, subject: id, reason: 'Support request' });
  assert.ok(item);
  return item;
}
