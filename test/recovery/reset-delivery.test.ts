import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { withServer, withSmtp } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { activeAccount, isResetMail, secretsIn, signIn, spawnLatchkey } from './helpers.ts';

const normalize = (s: string) =>
  s
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trim();

async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('reset mail delivery survives a mail-server outage', () => {
  const fx = withServer({ smtp: true });

  test('ENUM-02 SMTP down: the request still answers 202 at once; the mail arrives, exactly as written, when SMTP is back', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'smtpdown');
    fx.smtp.refuse = true;
    const res = await fx.server.client().post('/api/v1/password-resets', { identifier: a.username });
    assert.equal(res.status, 202);
    assert.equal(fx.smtp.mails.filter(isResetMail(a.email)).length, 0);
    const db = fx.server.deps.db;
    const queued = await until('a refused delivery attempt', async () =>
      db
        .selectFrom('outbox')
        .selectAll()
        .where('kind', '=', 'password_reset')
        .where('recipient', '=', a.email)
        .where('attempts', '>=', 1)
        .where('last_error', 'is not', null)
        .executeTakeFirst(),
    );
    assert.equal(queued.status, 'pending');
    const written = queued.body_text;
    fx.smtp.refuse = false;
    const mail = await fx.smtp.waitFor(isResetMail(a.email), 20_000);
    assert.equal(normalize(mail.text), normalize(written));
    const row = await until('the row to be marked sent', () =>
      db.selectFrom('outbox').selectAll().where('id', '=', queued.id).where('status', '=', 'sent').executeTakeFirst(),
    );
    assert.equal(row.body_text, '', 'the delivered body (with the token) is scrubbed');
    const { token } = secretsIn(mail);
    const password = strongPassword();
    assert.equal((await fx.server.client().post('/api/v1/password-resets/complete', { token, password })).status, 200);
    assert.equal((await signIn(fx.server, a.username, password)).status, 201);
  });
});

describe('reset mail delivery survives SIGKILL of the process', () => {
  const smtp = withSmtp();
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-crash-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('ENUM-02 killed between request and delivery: after a restart the mail is delivered once', async () => {
    const env = { LATCHKEY_DATABASE_URL: join(dir, 'crash.db'), LATCHKEY_SMTP_URL: smtp.url };
    let child = await spawnLatchkey(env);
    const port = new URL(child.base).port;
    try {
      const a = await activeAccount(child, smtp, 'crashuser');
      smtp.refuse = true;
      const res = await child.client().post('/api/v1/password-resets', { identifier: a.email });
      assert.equal(res.status, 202);
      const db = new Database(env.LATCHKEY_DATABASE_URL, { readonly: true });
      try {
        await until('the reset mail to be queued and refused once', () =>
          db
            .prepare(
              "select id from outbox where kind = 'password_reset' and status = 'pending' and attempts >= 1 and locked_by is null",
            )
            .get(),
        );
      } finally {
        db.close();
      }
      await child.kill('SIGKILL');
      assert.equal(smtp.mails.filter(isResetMail(a.email)).length, 0);
      smtp.refuse = false;
      child = await spawnLatchkey({ ...env, LATCHKEY_PORT: port });
      const mail = await smtp.waitFor(isResetMail(a.email), 20_000);
      // give a duplicate every chance to show up
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(smtp.mails.filter(isResetMail(a.email)).length, 1, 'exactly one reset mail');
      const { token } = secretsIn(mail);
      const password = strongPassword();
      assert.equal((await child.client().post('/api/v1/password-resets/complete', { token, password })).status, 200);
      assert.equal((await signIn(child, a.username, password)).status, 201);
    } finally {
      await child.kill('SIGKILL');
    }
  });
});
