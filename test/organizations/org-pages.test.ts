import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

describe('pages in an organization context (/o/{slug}/…)', () => {
  const fx = withServer();
  before(async () => {
    await fx.server.deps.organizations.create(
      { slug: 'acme', name: 'Acme', displayName: 'Acme Sign-in' },
      systemContext(),
    );
  });

  test('/o/{slug}/login wears the organization name and links to its own recovery and sign-up', async () => {
    const res = await fx.server.client().get('/o/acme/login', { accept: 'text/html' });
    assert.equal(res.status, 200);
    assert.match(res.text, /<title>Sign in · Acme Sign-in<\/title>/);
    assert.match(res.text, /href="\/o\/acme\/forgot-password"/);
    assert.match(res.text, /href="\/o\/acme\/register"/);
    assert.match(res.text, /action="\/o\/acme\/login"/, "errors stay in the organization's context");
  });

  test('/o/{slug}/register creates the account in that organization', async () => {
    const c = fx.server.client();
    const page = await c.get('/o/acme/register', { accept: 'text/html' });
    assert.match(page.text, /action="\/o\/acme\/register"/);
    const res = await c.form('/o/acme/register', {
      username: 'acme-member',
      email: 'member@acme.test',
      password: strongPassword(),
      passwordConfirm: 'something else',
    });
    // passwordConfirm mismatch is refused and re-rendered in the same context, nothing created
    assert.equal(res.status, 400);
    assert.match(res.text, /action="\/o\/acme\/register"/);
    const password = strongPassword();
    const ok = await c.form('/o/acme/register', {
      username: 'acme-member',
      email: 'member@acme.test',
      password,
      passwordConfirm: password,
    });
    assert.equal(ok.status, 200);
    const acme = await fx.server.deps.organizations.bySlug('acme');
    const row = await fx.server.deps.db
      .selectFrom('accounts')
      .select('org_id')
      .where('username_key', '=', 'acme-member')
      .executeTakeFirstOrThrow();
    assert.equal(row.org_id, acme?.id);
  });

  test('an unknown organization is a 404, not the default one', async () => {
    const res = await fx.server.client().get('/o/nope/login', { accept: 'text/html' });
    assert.equal(res.status, 404);
  });
});
