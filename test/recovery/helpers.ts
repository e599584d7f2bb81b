import assert from 'node:assert/strict';
import type { Client } from '../support/http.ts';
import { codeIn, linkIn, type ReceivedMail, type SmtpReceiver } from '../support/smtp.ts';
import { strongPassword, type TestServer } from '../support/server.ts';

export interface TestAccount {
  username: string;
  email: string;
  password: string;
}

/** Registers and activates an account through the real API and mail. */
export async function activeAccount(server: { client(): Client }, smtp: SmtpReceiver, username: string): Promise<TestAccount> {
  const c = server.client();
  const email = `${username}@example.test`;
  const password = strongPassword();
  const reg = await c.post('/api/v1/registrations', { username, email, password });
  assert.equal(reg.status, 202, reg.text);
  const mail = await smtp.waitFor((m) => m.to.includes(email) && /Activate/.test(m.subject));
  const token = new URL(linkIn(mail, '/activate?token=')).searchParams.get('token');
  const act = await c.post('/api/v1/activations', { token });
  assert.equal(act.status, 200, act.text);
  return { username, email, password };
}

export const isResetMail = (email: string) => (m: ReceivedMail) => m.to.includes(email) && /Reset your password/.test(m.subject);

/** Asks for a reset and returns the new reset mail (not one received before the request). */
export async function requestReset(server: { client(): Client }, smtp: SmtpReceiver, identifier: string, email: string) {
  const before = smtp.mails.filter(isResetMail(email)).length;
  const res = await server.client().post('/api/v1/password-resets', { identifier });
  assert.equal(res.status, 202, res.text);
  await smtp.waitFor((m) => smtp.mails.filter(isResetMail(email)).length > before && isResetMail(email)(m));
  const mail = smtp.mails.filter(isResetMail(email))[before];
  return { mail, ...secretsIn(mail) };
}

export function secretsIn(mail: ReceivedMail): { link: string; token: string; code: string } {
  const link = linkIn(mail, '/auth/reset/code?token=');
  return { link, token: new URL(link).searchParams.get('token') as string, code: codeIn(mail) };
}

export async function signIn(server: TestServer | { client(): Client }, identifier: string, password: string) {
  const c = server.client();
  const res = await c.post('/api/v1/sessions', { identifier, password });
  return { c, status: res.status };
}
