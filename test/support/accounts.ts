import assert from 'node:assert/strict';
import type { Client } from './http.ts';
import { strongPassword, type TestServer, waitForDevMail } from './server.ts';

let n = 0;
/** A unique username for this process. */
export function uniqueName(prefix = 'u'): string {
  n++;
  return `${prefix}${process.pid % 10000}x${n}`;
}

/** Registers through the API and activates with the mailed link (dev mailbox); returns the credentials. */
export async function activeAccount(server: TestServer, opts: { password?: string; username?: string } = {}) {
  const username = opts.username ?? uniqueName();
  const email = `${username}@example.test`;
  const password = opts.password ?? strongPassword();
  const c = server.client();
  const reg = await c.post('/api/v1/registrations', { username, email, password });
  assert.equal(reg.status, 202, reg.text);
  const mail = await waitForDevMail(server, (m) => m.to.includes(email) && /activate/i.test(m.subject));
  const token = /\/activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  assert.ok(token, 'activation link in the mail');
  const act = await c.post('/api/v1/activations', { token });
  assert.equal(act.status, 200, act.text);
  return { username, email, password };
}

/** A signed-in client for the account. */
export async function signedIn(server: TestServer, identifier: string, password: string): Promise<Client> {
  const c = server.client();
  const res = await c.post('/api/v1/sessions', { identifier, password });
  assert.equal(res.status, 201, res.text);
  return c;
}

/** Row counts of the tables a request could change; equal snapshots mean nothing changed. */
export async function snapshot(server: TestServer): Promise<Record<string, number>> {
  const db = server.deps.db;
  const out: Record<string, number> = {};
  for (const table of [
    'accounts',
    'sessions',
    'activations',
    'outbox',
    'password_changes',
    'recovery_codes',
  ] as const) {
    const r = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    out[table] = Number(r.n);
  }
  const hashes = await db.selectFrom('accounts').select(['password_hash', 'status']).orderBy('id').execute();
  // a cheap fingerprint of every password hash and status: a changed password or activation shows
  out.accountsFingerprint = [...hashes.map((h) => `${h.password_hash}:${h.status}`).join('|')].reduce(
    (a, ch) => (a * 31 + ch.charCodeAt(0)) | 0,
    7,
  );
  return out;
}
