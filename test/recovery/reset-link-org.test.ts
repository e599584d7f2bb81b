import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import { activeAccount } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword, waitForDevMail } from '../support/server.ts';

// Issue 17, defect 3 (brand leftover): the link in the reset mail is the install's
// (/auth/reset/code?token=…), but a member of an organization lands on its pages: its name, its
// header and links under /o/{slug}/…, through the form, the "Password changed" page and a used link.

const html = { accept: 'text/html' };
const titleOf = (page: string) => /<title>([^<]*)<\/title>/.exec(page)?.[1];

describe('the reset link page of an organization member', () => {
  const fx = withServer();
  before(async () => {
    await fx.server.deps.organizations.create(
      { slug: 'acme', name: 'Acme', displayName: 'Acme Sign-in' },
      systemContext(),
    );
  });

  const linkFor = async (email: string) => {
    const mail = await waitForDevMail(fx.server, (m) => m.to === email && /Reset your password/.test(m.subject));
    const token = /\/auth\/reset\/code\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.ok(token, mail.text);
    return `/auth/reset/code?token=${token}`;
  };

  test("17-3 the reset link shows the member's organization, and keeps its links under /o/{slug}/", async () => {
    const a = await activeAccount(fx.server);
    const org = await fx.server.deps.organizations.bySlug('acme');
    assert.ok(org);
    await fx.server.deps.db
      .updateTable('accounts')
      .set({ org_id: org.id })
      .where('username', '=', a.username)
      .execute();
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/password-resets', { identifier: a.username })).status, 202);
    const link = await linkFor(a.email);

    const page = await c.get(link, html);
    assert.equal(page.status, 200);
    assert.equal(titleOf(page.text), 'Choose a new password · Acme Sign-in');
    assert.match(page.text, /<a class="brand" href="\/o\/acme\/login">Acme Sign-in<\/a>/);
    assert.match(page.text, /href="\/o\/acme\/brand\/theme\.css"/);
    assert.doesNotMatch(page.text, /Latchkey/);

    // a refused password keeps the organization
    const token = new URL(link, fx.server.base).searchParams.get('token') as string;
    const short = await c.form('/auth/reset/code', { token, password: 'x', passwordConfirm: 'x' });
    assert.equal(short.status, 400);
    assert.equal(titleOf(short.text), 'Choose a new password · Acme Sign-in');

    const password = strongPassword();
    const done = await c.form('/auth/reset/code', { token, password, passwordConfirm: password });
    assert.equal(done.status, 200, done.text);
    assert.equal(titleOf(done.text), 'Password changed · Acme Sign-in');
    assert.match(done.text, /<form method="get" action="\/o\/acme\/login">/);

    // the used link: a new one is asked for on the organization's page
    const dead = await c.get(link, html);
    assert.equal(dead.status, 410);
    assert.equal(titleOf(dead.text), 'Reset link expired · Acme Sign-in');
    assert.match(dead.text, /<form method="get" action="\/o\/acme\/forgot-password">/);
  });

  test("an account of the default organization, and an unknown token, keep the install's pages", async () => {
    const a = await activeAccount(fx.server);
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/password-resets', { identifier: a.username })).status, 202);
    const page = await c.get(await linkFor(a.email), html);
    assert.equal(titleOf(page.text), 'Choose a new password · Latchkey');
    assert.match(page.text, /<a class="brand" href="\/login">Latchkey<\/a>/);

    const unknown = await c.get('/auth/reset/code?token=not-a-real-token', html);
    assert.equal(unknown.status, 410);
    assert.equal(titleOf(unknown.text), 'Reset link expired · Latchkey');
    assert.match(unknown.text, /<form method="get" action="\/forgot-password">/);
  });
});
