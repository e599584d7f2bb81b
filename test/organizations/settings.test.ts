import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { signedInUser, type User } from '../phone/helpers.ts';
import { devMailbox, startTestServer, strongPassword, type TestServer, waitForDevMail } from '../support/server.ts';

const root = join(import.meta.dirname, '..', '..');
/** The CLI reads every LATCHKEY_* variable; the test runner's own must not leak into it. */
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));

describe('organizations: roles, recovery settings, CLI, organization-scoped pages', () => {
  let server: TestServer;
  let dir: string;
  let db: string;
  let admin: User;
  let member: User;
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), ...args], {
      env: { ...cleanEnv(), LATCHKEY_DATABASE_URL: db, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_ENV: 'development' },
      encoding: 'utf8',
    });
  const audits = async (event: string) =>
    server.deps.db.selectFrom('audit_log').selectAll().where('event', '=', event).execute();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-org-'));
    db = join(dir, 'org.db');
    const created = cli('org', 'create', 'acme', 'Acme Corp', '--support-contact', 'help@acme.test');
    assert.equal(created.status, 0, created.stderr);
    server = await startTestServer({ LATCHKEY_DATABASE_URL: db });
    admin = await signedInUser(server, 'orgadmin');
    member = await signedInUser(server, 'orgmember');
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('ADM-04 no one administers an organization until `latchkey org add-admin` says so', async () => {
    const before = await admin.c.put('/api/v1/organizations/default/recovery-settings', {
      methods: ['email_link', 'email_otp'],
    });
    assert.equal(before.status, 403);
    const r = cli('org', 'add-admin', 'default', 'orgadmin');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /orgadmin is now admin of default/);
    const unknown = cli('org', 'add-admin', 'default', 'nobody-here');
    assert.equal(unknown.status, 1);
    const ok = await admin.c.put('/api/v1/organizations/default/recovery-settings', {
      methods: ['email_link', 'email_otp'],
    });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.methods, ['email_link', 'email_otp']);
    assert.equal(ok.json.emailOtpTtl, 600);
    assert.equal(ok.json.maxAttempts, 5);
    assert.equal(ok.json.maxResends, 3);
    assert.equal((await audits('org.admin_added')).length, 1);
    const changed = await audits('org.recovery_settings_changed');
    assert.equal(
      changed.at(-1)?.actor_id,
      (
        await server.deps.db
          .selectFrom('accounts')
          .select('id')
          .where('username', '=', 'orgadmin')
          .executeTakeFirstOrThrow()
      ).id,
    );
  });

  test('ADM-05 a member gets 403 from the API and the page, and each refusal is audited', async () => {
    const n = (await audits('admin.forbidden')).length;
    const put = await member.c.put('/api/v1/organizations/default/recovery-settings', { methods: ['sms_otp'] });
    assert.equal(put.status, 403);
    assert.equal(put.json.code, 'forbidden');
    const get = await member.c.get('/api/v1/organizations/default/recovery-settings');
    assert.equal(get.status, 403);
    const page = await member.c.get('/admin/organization', { accept: 'text/html' });
    assert.equal(page.status, 403);
    const post = await member.c.form('/admin/organization', { methods: 'sms_otp', otpLength: '6' });
    assert.equal(post.status, 403);
    assert.equal((await audits('admin.forbidden')).length, n + 4);
    const settings = await admin.c.get('/api/v1/organizations/default/recovery-settings');
    assert.deepEqual(settings.json.methods, ['email_link', 'email_otp'], 'nothing changed');
    const anon = await server.client().put('/api/v1/organizations/default/recovery-settings', { methods: ['sms_otp'] });
    assert.equal(anon.status, 401);
  });

  test('an admin of one organization is refused for another', async () => {
    const r = await admin.c.put('/api/v1/organizations/acme/recovery-settings', { methods: ['sms_otp'] });
    assert.equal(r.status, 403);
    const missing = await admin.c.put('/api/v1/organizations/nope/recovery-settings', { methods: ['sms_otp'] });
    assert.equal(missing.status, 404);
  });

  test('out-of-bounds settings are a 400 naming the field and change nothing (OTP-01, OTP-02, REC-02, REC-06)', async () => {
    for (const bad of [
      { methods: [] },
      { methods: ['carrier_pigeon'] },
      { smsOtpTtl: 601 },
      { emailOtpTtl: 601 },
      { emailLinkTtl: 86_401 },
      { otpLength: 5 },
      { otpLength: 11 },
      { maxAttempts: 6 },
      { maxResends: -1 },
      { emailLinkTtl: '30m' },
    ]) {
      const r = await admin.c.put('/api/v1/organizations/default/recovery-settings', bad);
      assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${r.status} ${r.text}`);
    }
    const settings = await admin.c.get('/api/v1/organizations/default/recovery-settings');
    assert.deepEqual(settings.json.methods, ['email_link', 'email_otp']);
    assert.equal(settings.json.otpLength, 6);
  });

  test('an unknown or misspelt setting is a 400 naming it, not silently dropped, and changes nothing (WEB-04)', async () => {
    for (const bad of [{ otpLenght: 8 }, { methods: ['sms_otp'], maxAttempt: 3 }]) {
      const r = await admin.c.put('/api/v1/organizations/default/recovery-settings', bad);
      assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${r.status} ${r.text}`);
      assert.equal(r.json.code, 'validation_failed');
      const name = Object.keys(bad).find((k) => k !== 'methods') as string;
      assert.match(r.text, new RegExp(name), 'the answer names the unknown field');
    }
    const settings = await admin.c.get('/api/v1/organizations/default/recovery-settings');
    assert.deepEqual(settings.json.methods, ['email_link', 'email_otp']);
    assert.equal(settings.json.otpLength, 6);
    assert.equal(settings.json.maxAttempts, 5);
  });

  test('an admin saves the settings with the /admin/organization form', async () => {
    const page = await admin.c.get('/admin/organization', { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.text, /Text me a code/);
    const body = new URLSearchParams([
      ['methods', 'email_otp'],
      ['methods', 'sms_otp'],
      ['emailLinkTtl', '3600'],
      ['emailOtpTtl', '300'],
      ['smsOtpTtl', '300'],
      ['otpLength', '8'],
      ['maxAttempts', '3'],
      ['maxResends', '2'],
    ]).toString();
    const saved = await admin.c.post('/admin/organization', body, {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
    });
    assert.equal(saved.status, 303, saved.text);
    const s = (await admin.c.get('/api/v1/organizations/default/recovery-settings')).json;
    assert.deepEqual(s, {
      methods: ['email_otp', 'sms_otp'],
      emailLinkTtl: 3600,
      emailOtpTtl: 300,
      smsOtpTtl: 300,
      otpLength: 8,
      maxAttempts: 3,
      maxResends: 2,
    });
    const bad = await admin.c.post('/admin/organization', 'otpLength=4', {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
    });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /Enable at least one recovery method|Code length/);
  });

  test('ENUM-02 the chooser shows one, two or three methods, by the organization alone', async () => {
    const set = (methods: string[]) => admin.c.put('/api/v1/organizations/default/recovery-settings', { methods });
    const page = async (path = '/forgot-password') => (await server.client().get(path, { accept: 'text/html' })).text;
    await set(['sms_otp']);
    let html = await page();
    assert.doesNotMatch(html, /type="radio"/);
    assert.match(html, /<input type="hidden" name="method" value="sms_otp"/);
    assert.match(html, /text a code/);
    await set(['email_link', 'sms_otp']);
    html = await page();
    assert.equal(html.match(/type="radio"/g)?.length, 2);
    assert.match(html, /Email me a link/);
    assert.match(html, /Text me a code/);
    await set(['email_link', 'email_otp', 'sms_otp']);
    html = await page();
    assert.equal(html.match(/type="radio"/g)?.length, 3);
    assert.match(html, /Email me a code/);
  });

  test('an account registered into an organization recovers only by that organization’s methods', async () => {
    const c = server.client();
    const email = 'acmeuser@example.test';
    const password = strongPassword();
    assert.equal(
      (await c.post('/api/v1/organizations/acme/registrations', { username: 'acmeuser', email, password })).status,
      202,
    );
    assert.equal(
      (await c.post('/api/v1/organizations/nope/registrations', { username: 'x1', email: 'x1@example.test', password }))
        .status,
      404,
    );
    const mail = await waitForDevMail(server, (m) => m.to === email);
    const token = /\/activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.equal((await c.post('/api/v1/activations', { token })).status, 200);
    const r = cli('org', 'add-admin', 'acme', 'acmeuser', '--owner');
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await c.post('/api/v1/sessions', { identifier: 'acmeuser', password })).status, 201);
    const put = await c.put('/api/v1/organizations/acme/recovery-settings', { methods: ['email_otp'] });
    assert.equal(put.status, 200, put.text);
    // the admin of acme is no admin of default
    assert.equal(
      (await c.put('/api/v1/organizations/default/recovery-settings', { methods: ['email_link'] })).status,
      403,
    );

    const resetMails = async () =>
      (await devMailbox(server)).filter((m) => m.to === email && /reset/i.test(m.subject)).length;
    const before = await resetMails();
    const link = await server.client().post('/api/v1/password-resets', { identifier: email, method: 'email_link' });
    assert.equal(link.status, 202);
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal(await resetMails(), before, 'acme does not enable email links');
    const otp = await server.client().post('/api/v1/password-resets', { identifier: email, method: 'email_otp' });
    assert.ok(otp.json.flow);
    await waitForDevMail(server, (m) => m.to === email && m.subject.startsWith('Your password reset code'));
    const code = await waitForDevMail(
      server,
      (m) => m.to === email && m.subject.startsWith('Your password reset code'),
    );
    assert.match(code.subject, /Acme Corp/);
    assert.match(code.text, /help@acme\.test/);
  });

  test('organization-scoped paths: /o/{slug}/forgot-password uses that organization; unknown slugs are 404', async () => {
    const html = (await server.client().get('/o/acme/forgot-password', { accept: 'text/html' })).text;
    assert.match(html, /action="\/o\/acme\/forgot-password"/);
    assert.match(html, /Acme Corp/, 'the organization’s display name');
    assert.match(
      html,
      /<input type="hidden" name="method" value="email_otp"/,
      'acme (set above) offers only email codes',
    );
    assert.equal((await server.client().get('/o/nope/forgot-password', { accept: 'text/html' })).status, 404);
    const login = await server.client().get('/o/acme/login', { accept: 'text/html' });
    assert.equal(login.status, 200);
    assert.match(login.text, /href="\/o\/acme\/forgot-password"/, 'the org sign-in page leads to its own recovery');
    const posted = await server
      .client()
      .form('/o/acme/forgot-password', { identifier: 'someone', method: 'email_otp' });
    assert.equal(posted.status, 200);
    assert.match(posted.text, /If an account matches, we sent a code to its email address/);
    assert.match(posted.text, /href="\/o\/acme\/forgot-password">Try another method/);
  });
});
