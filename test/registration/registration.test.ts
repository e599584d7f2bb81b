import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sha256 } from '../../src/security/hashing.ts';
import { snapshot } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { codeIn, linkIn } from '../support/smtp.ts';

// Registration and activation over real HTTP with a real SMTP receiver.

describe('registration and activation', () => {
  const fx = withServer({ smtp: true });

  const accountRow = (username: string) =>
    fx.server.deps.db
      .selectFrom('accounts')
      .selectAll()
      .where('username_key', '=', username.toLowerCase())
      .executeTakeFirst();

  test('a registration stays pending; the mail carries a >= 128-bit link token (only its hash stored) and a typed code', async () => {
    const password = strongPassword();
    const reg = await fx.server
      .client()
      .post('/api/v1/registrations', { username: 'Pending1', email: '  Pending1@EXAMPLE.Test ', password });
    assert.equal(reg.status, 202);
    const row = await accountRow('pending1');
    assert.equal(row?.status, 'pending');
    assert.equal(row?.email, 'pending1@example.test', 'trimmed and case-folded (ID-01)');
    assert.equal(
      (await fx.server.client().post('/api/v1/sessions', { identifier: 'pending1', password })).status,
      401,
      'pending cannot sign in',
    );

    const mail = await fx.mail('pending1@example.test');
    assert.match(mail.subject, /^Activate your account/);
    const link = linkIn(mail, '/activate?token=');
    assert.ok(link.startsWith(`${fx.server.base}/activate?token=`), 'links use the public URL');
    const token = new URL(link).searchParams.get('token') ?? '';
    assert.ok(token.length >= 22 && /^[A-Za-z0-9_-]+$/.test(token), 'at least 128 bits');
    const code = codeIn(mail);
    const act = await fx.server.deps.db
      .selectFrom('activations')
      .selectAll()
      .where('account_id', '=', row?.id ?? '')
      .executeTakeFirstOrThrow();
    assert.equal(act.token_hash, sha256(token));
    assert.ok(!JSON.stringify(act).includes(token));
    assert.ok(!JSON.stringify(act).includes(code.replace('-', '')));
    // once delivered, the outbox keeps no copy of the link
    for (let i = 0; i < 50; i++) {
      const out = await fx.server.deps.db
        .selectFrom('outbox')
        .select(['status', 'body_text'])
        .where('recipient', '=', 'pending1@example.test')
        .executeTakeFirstOrThrow();
      if (out.status === 'sent') {
        assert.equal(out.body_text, '');
        break;
      }
      assert.ok(i < 49, 'the outbox row was marked sent');
      await new Promise((r) => setTimeout(r, 100));
    }

    // opening the link, as often as a mail scanner likes, shows a button and changes nothing
    for (let i = 0; i < 3; i++) {
      const page = await fx.server
        .client()
        .get(`/activate?token=${encodeURIComponent(token)}`, { accept: 'text/html' });
      assert.equal(page.status, 200);
      assert.match(page.text, /<form[^>]*method="post"[^>]*action="\/activate"/);
      assert.match(page.text, /<button/);
      assert.ok(page.text.includes(`value="${token}"`), 'the token rides in the form');
    }
    assert.equal((await accountRow('pending1'))?.status, 'pending');
    const post = await fx.server.client().form('/activate', { token });
    assert.equal(post.status, 303);
    assert.equal((await accountRow('pending1'))?.status, 'active');
    const again = await fx.server.client().post('/api/v1/activations', { token });
    assert.equal(again.status, 400, 'single use');
    assert.equal(
      (await fx.server.client().post('/api/v1/sessions', { identifier: 'Pending1@example.test', password })).status,
      201,
    );
  });

  test('activation with identifier + typed code; a wrong code changes nothing', async () => {
    const password = strongPassword();
    assert.equal(
      (
        await fx.server
          .client()
          .post('/api/v1/registrations', { username: 'coder', email: 'coder@example.test', password })
      ).status,
      202,
    );
    const mail = await fx.mail('coder@example.test');
    const code = codeIn(mail);
    const wrong = await fx.server
      .client()
      .post('/api/v1/activations', { identifier: 'coder', code: 'AAAA-AAAA' === code ? 'BBBB-BBBB' : 'AAAA-AAAA' });
    assert.equal(wrong.status, 400);
    assert.equal((await accountRow('coder'))?.status, 'pending');
    const ok = await fx.server
      .client()
      .post('/api/v1/activations', { identifier: 'coder@example.test', code: code.toLowerCase().replace('-', ' ') });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await accountRow('coder'))?.status, 'active');
  });

  test('ENUM-03 an existing email answers exactly like a new one and its owner is mailed instead', async () => {
    const c = fx.server.client();
    const first = await c.post('/api/v1/registrations', {
      username: 'owner1',
      email: 'owner1@example.test',
      password: strongPassword(),
    });
    await fx.mail('owner1@example.test');
    const snap = await snapshot(fx.server);
    const dup = await c.post('/api/v1/registrations', {
      username: 'intruder1',
      email: ' owner1@EXAMPLE.TEST',
      password: strongPassword(),
    });
    const fresh = await c.post('/api/v1/registrations', {
      username: 'newcomer1',
      email: 'newcomer1@example.test',
      password: strongPassword(),
    });
    for (const r of [first, dup, fresh]) {
      assert.equal(r.status, 202);
      assert.equal(r.text, first.text);
    }
    const headerNames = (r: { headers: Headers }) => [...r.headers.keys()].filter((k) => k !== 'date').sort();
    assert.deepEqual(headerNames(dup), headerNames(fresh));
    const notice = await fx.mail('owner1@example.test', /^You already have an account/);
    assert.doesNotMatch(notice.text, /activate\?token=/);
    assert.equal(await accountRow('intruder1'), undefined, 'no account for the second registration');
    const after = await snapshot(fx.server);
    assert.equal(after.accounts, snap.accounts + 1, 'only the newcomer was created');
  });

  test('usernames are unique case-insensitively; bad input is a 400 naming the field', async () => {
    assert.equal(
      (
        await fx.server.client().post('/api/v1/registrations', {
          username: 'CaseUser',
          email: 'case1@example.test',
          password: strongPassword(),
        })
      ).status,
      202,
    );
    const snap = await snapshot(fx.server);
    const taken = await fx.server
      .client()
      .post('/api/v1/registrations', { username: 'caseuser', email: 'case2@example.test', password: strongPassword() });
    assert.equal(taken.status, 409);
    assert.equal(taken.json.errors?.[0]?.field, 'username');
    const bad = await fx.server
      .client()
      .post('/api/v1/registrations', { username: 'a b', email: 'not-an-email', password: strongPassword() });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json.errors.map((e: { field: string }) => e.field).sort(), ['email', 'username']);
    const form = await fx.server.client().form('/register', {
      username: 'formuser',
      email: 'formuser@example.test',
      password: strongPassword(),
      passwordConfirm: strongPassword(),
    });
    assert.equal(form.status, 400, 'password and confirmation must match');
    assert.match(form.text, /do not match/);
    assert.deepEqual(await snapshot(fx.server), snap);
  });
});
