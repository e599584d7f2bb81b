import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runAdminCommand } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config/index.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { createAccounts } from './helpers.ts';

describe('repeated password changes flag the account; the owner sees their security activity', () => {
  const fx = withServer({ smtp: true });
  const first = strongPassword();
  before(async () => {
    await createAccounts(fx.server, ['flag1', 'calm1'], first);
  });

  const flagOf = (username: string) =>
    fx.server.deps.db
      .selectFrom('accounts')
      .select(['flagged_at', 'flag_reason'])
      .where('username', '=', username)
      .executeTakeFirstOrThrow();

  test('LOG-04 a fourth completed change within 24 h flags the account as possibly compromised, and mails the owner', async () => {
    const c = fx.server.client({ headers: { 'user-agent': 'FlagTest/1.0' } });
    assert.equal((await c.post('/api/v1/sessions', { identifier: 'flag1', password: first })).status, 201);
    let current = first;
    for (let i = 1; i <= 4; i++) {
      const next = strongPassword();
      const r = await c.put('/api/v1/account/password', { currentPassword: current, newPassword: next });
      assert.equal(r.status, 200, r.text);
      current = next;
      const flag = await flagOf('flag1');
      if (i <= 3) assert.equal(flag.flagged_at, null, `not flagged after ${i} changes`);
      else {
        assert.ok(flag.flagged_at, 'flagged after the fourth change');
        assert.match(flag.flag_reason ?? '', /possibly compromised/);
      }
    }
    const mail = await fx.smtp.waitFor(
      (m) => m.to.includes('flag1@example.test') && /Unusual activity/.test(m.subject),
    );
    assert.match(mail.text, /4 times/);
    const audit = await fx.server.deps.db
      .selectFrom('audit_log')
      .select('event')
      .where('event', '=', 'account.flagged')
      .execute();
    assert.equal(audit.length, 1);
    // The flag does not lock the owner out.
    assert.equal(
      (await fx.server.client().post('/api/v1/sessions', { identifier: 'flag1', password: current })).status,
      201,
    );
  });

  test('LOG-04 reset requests alone never flag', async () => {
    for (let i = 0; i < 6; i++)
      assert.equal((await fx.server.client().post('/api/v1/password-resets', { identifier: 'calm1' })).status, 202);
    await fx.smtp.waitFor((m) => m.to.includes('calm1@example.test'));
    assert.equal((await flagOf('calm1')).flagged_at, null);
  });

  test('LOG-04 `latchkey accounts flagged` lists the flagged account with its reason', async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      const code = await runAdminCommand(
        loadConfig({ ...fx.server.env, LATCHKEY_PORT: '0' }),
        'accounts',
        ['flagged'],
        'usage',
      );
      assert.equal(code, 0);
    } finally {
      console.log = log;
    }
    const out = lines.join('\n');
    assert.match(out, /flag1/);
    assert.match(out, /possibly compromised/);
    assert.doesNotMatch(out, /calm1/);
  });

  test('LOG-01 the owner sees their recent security activity on /settings, with time, IP and browser', async () => {
    const c = fx.server.client({
      headers: { 'user-agent': 'ActivityCheck/2.0 <script>x</script>', accept: 'text/html' },
    });
    await fx.server.client().post('/api/v1/sessions', { identifier: 'calm1', password: 'a-wrong-password' });
    assert.equal((await c.post('/api/v1/sessions', { identifier: 'calm1', password: first })).status, 201);
    const page = await c.get('/settings', { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.text, /Recent security activity/);
    assert.match(page.text, /Signed in/);
    assert.match(page.text, /Failed sign-in attempt/);
    assert.match(page.text, /Password reset requested/);
    assert.match(page.text, /127\.0\.0\.1/);
    assert.match(page.text, /title="ActivityCheck\/2\.0 scriptx\/script"/, 'user-controlled strings lose their markup');
    assert.doesNotMatch(page.text, /<script>x<\/script>/);
    assert.doesNotMatch(page.text, /flag1/, "only the account's own events");
  });
});
