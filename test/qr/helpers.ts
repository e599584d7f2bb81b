import assert from 'node:assert/strict';
import type { Client } from '../support/http.ts';
import { devMailbox, type TestServer } from '../support/server.ts';

export interface Started {
  id: string;
  url: string;
  code: string;
  number: number;
  qrSvg: string;
  expiresAt: string;
  rotateAt: string;
  interval: number;
}

/** A new browser starts a QR sign-in through the API. */
export async function startQr(desktop: Client, body?: unknown): Promise<Started> {
  const r = await desktop.post('/api/v1/qr-logins', body ?? {});
  assert.equal(r.status, 201, r.text);
  return r.json;
}

export const secretOf = (s: Started) => s.url.split('/qr/')[1] as string;

/** The other two choices the phone is offered, i.e. wrong numbers. */
export async function wrongNumber(phone: Client, s: Started, secret = secretOf(s)): Promise<number> {
  const r = await phone.get(`/api/v1/qr-logins/${s.id}/details?secret=${encodeURIComponent(secret)}`);
  assert.equal(r.status, 200, r.text);
  return (r.json.choices as number[]).find((n) => n !== s.number) as number;
}

/** The "This wasn't me" link of the newest QR notice to `email`. */
export async function reportLink(server: { base: string }, email: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = (await devMailbox(server)).find((x) => x.to === email && x.subject.startsWith('New sign-in by QR code'));
    const link = m && /\/qr\/report\/([A-Za-z0-9_-]{43})/.exec(m.text)?.[0];
    if (link) return link;
    if (Date.now() > deadline) throw new Error('no QR notice');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function sessionCount(server: TestServer, accountUsername: string): Promise<number> {
  const rows = await server.deps.db
    .selectFrom('sessions')
    .innerJoin('accounts', 'accounts.id', 'sessions.account_id')
    .select('sessions.id')
    .where('accounts.username', '=', accountUsername)
    .execute();
  return rows.length;
}
