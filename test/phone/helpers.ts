import assert from 'node:assert/strict';
import type { Client } from '../support/http.ts';
import { devMailbox, strongPassword, type TestServer, waitForDevMail } from '../support/server.ts';

export interface User {
  username: string;
  email: string;
  password: string;
  /** signed in */
  c: Client;
}

/** Registers, activates (through the dev mailbox) and signs in a user. */
export async function signedInUser(server: TestServer, username: string): Promise<User> {
  const c = server.client();
  // stored and mailed to in its normal form (ID-01): a mixed-case username gives a lower-case address
  const email = `${username}@example.test`.toLowerCase();
  const password = strongPassword();
  const reg = await c.post('/api/v1/registrations', { username, email, password });
  assert.equal(reg.status, 202, reg.text);
  const mail = await waitForDevMail(server, (m) => m.to === email && /activat/i.test(m.subject + m.text));
  const token = /\/activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  assert.ok(token, 'activation link in the mail');
  assert.equal((await c.post('/api/v1/activations', { token })).status, 200);
  const s = await c.post('/api/v1/sessions', { identifier: username, password });
  assert.equal(s.status, 201, s.text);
  return { username, email, password, c };
}

/** Number of dev-mailbox messages matching, to wait for the next one after an action. */
export async function countMail(
  server: TestServer,
  pred: (m: { to: string; text: string; channel: string; subject: string }) => boolean,
) {
  return (await devMailbox(server)).filter(pred).length;
}

/** Texts nextCode already handed out: dev-mailbox times come from the (fake) clock and can tie. */
const handedOut = new Set<string>();

/** Waits until more than `seen` messages match and returns the code of one not handed out before. */
export async function nextCode(
  server: TestServer,
  pred: (m: { to: string; text: string; channel: string; subject: string }) => boolean,
  seen: number,
) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const all = (await devMailbox(server)).filter(pred);
    const fresh = all.filter((m) => !handedOut.has(m.text));
    if (all.length > seen && fresh.length) {
      handedOut.add(fresh[0].text);
      const code = /\b(\d{6,10})\b/.exec(fresh[0].text)?.[1];
      assert.ok(code, `a code in: ${fresh[0].text}`);
      return code;
    }
    if (Date.now() > deadline) throw new Error('no new code message');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const smsTo = (phone: string) => (m: { to: string; channel: string }) => m.channel === 'sms' && m.to === phone;

/** Adds and confirms a mobile number through the API. */
export async function verifiedPhone(server: TestServer, u: User, phone: string): Promise<void> {
  const seen = await countMail(server, smsTo(phone));
  const put = await u.c.put('/api/v1/account/phone', { phone });
  assert.equal(put.status, 202, put.text);
  const code = await nextCode(server, smsTo(phone), seen);
  const conf = await u.c.post('/api/v1/account/phone/confirmation', { code });
  assert.equal(conf.status, 200, conf.text);
  assert.equal(conf.json.phone, phone);
}

/** Polls until the outbox has nothing pending (the request's job and its messages are done). */
export async function outboxIdle(server: TestServer, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await server.deps.db
      .selectFrom('outbox')
      .select('id')
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (!row) return;
    if (Date.now() > deadline) throw new Error('outbox still busy');
    await new Promise((r) => setTimeout(r, 50));
  }
}
