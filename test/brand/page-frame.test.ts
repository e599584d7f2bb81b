import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import {
  configurePageBrand,
  PAGE_BRAND_TTL_MS,
  type PageBrandRow,
  pageBrand,
  refreshPageBrand,
} from '../../src/flows/brand/page-brand.ts';
import { signedInUser, type User } from '../phone/helpers.ts';
import { uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { waitForDevMail } from '../support/server.ts';

// Issue 17, "Their brand": every page's frame wears the brand: an organization's logo as the
// favicon (the product's /static/favicon.svg otherwise), and a "Help" link in the header to the
// support page, else a mail to the support address, else /support.

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const html = { accept: 'text/html' };
const help = (page: string) => /<header class="top">[\s\S]*?<a href="([^"]*)">([^<]*)<\/a>/.exec(page)?.slice(1);
const icon = (page: string) => /<link rel="icon" href="([^"]*)" type="([^"]*)"/.exec(page)?.slice(1);
const row = (slug: string, o: Partial<PageBrandRow> = {}): PageBrandRow => ({
  slug,
  supportUrl: null,
  supportContact: null,
  logoType: null,
  logoVersion: null,
  ...o,
});

describe('the page frame: which help link and favicon a page gets', () => {
  test('the organization’s support page, else its contact when it is an address, else the install’s page, address, contact, else /support', async () => {
    const rows = [
      row('default', { supportContact: 'your administrator' }),
      row('web', { supportUrl: 'https://help.web.test/', supportContact: 'desk@web.test' }),
      row('mail', { supportContact: 'Desk@Mail.test' }),
      row('words', { supportContact: 'the Words help desk' }),
      row('bad', { supportUrl: 'javascript:alert(1)' }),
      row('logo', { logoType: 'image/webp', logoVersion: 42 }),
    ];
    configurePageBrand({ install: { supportEmail: 'help@install.test' }, load: async () => rows, now: () => 0 });
    await refreshPageBrand();
    assert.equal(pageBrand('').help, 'mailto:help@install.test', 'the install: its address');
    assert.equal(pageBrand('/o/web').help, 'https://help.web.test/');
    assert.equal(pageBrand('/o/mail').help, 'mailto:desk@mail.test');
    assert.equal(pageBrand('/o/words').help, 'mailto:help@install.test', 'words are not a link');
    assert.equal(pageBrand('/o/bad').help, 'mailto:help@install.test', 'only http(s) pages');
    assert.equal(pageBrand('/o/unknown').help, 'mailto:help@install.test');
    assert.deepEqual(pageBrand('/o/logo').favicon, { href: '/brand/logo/logo?v=42', type: 'image/webp' });
    assert.deepEqual(pageBrand('').favicon, { href: '/static/favicon.svg', type: 'image/svg+xml' });
    assert.deepEqual(pageBrand('/o/web').favicon, { href: '/static/favicon.svg', type: 'image/svg+xml' });

    configurePageBrand({
      install: { supportUrl: 'https://help.install.test/', supportEmail: 'help@install.test' },
      load: async () => rows,
      now: () => 0,
    });
    await refreshPageBrand();
    assert.equal(pageBrand('/o/words').help, 'https://help.install.test/', "the install's page before its address");
    configurePageBrand({ install: { supportContact: 'ops@install.test' }, load: async () => [], now: () => 0 });
    await refreshPageBrand();
    assert.equal(pageBrand('').help, 'mailto:ops@install.test', 'a contact that is an address');
    configurePageBrand({ install: { supportContact: 'your administrator' }, load: async () => [], now: () => 0 });
    await refreshPageBrand();
    assert.equal(pageBrand('').help, '/support', 'nothing set: the support request form');
  });

  test('what was read is kept for a while, then read again in the background; a failed read keeps the last', async () => {
    let now = 1_000;
    let reads = 0;
    let fail = false;
    configurePageBrand({
      install: {},
      now: () => now,
      load: async () => {
        reads++;
        if (fail) throw new Error('database away');
        return [row('acme', { supportUrl: `https://help${reads}.acme.test/` })];
      },
    });
    await refreshPageBrand();
    assert.equal(pageBrand('/o/acme').help, 'https://help1.acme.test/');
    now += PAGE_BRAND_TTL_MS;
    assert.equal(pageBrand('/o/acme').help, 'https://help1.acme.test/');
    assert.equal(reads, 1, 'still fresh');
    now += 1;
    assert.equal(pageBrand('/o/acme').help, 'https://help1.acme.test/', 'served from memory while it reads');
    await new Promise((r) => setImmediate(r));
    assert.equal(reads, 2);
    assert.equal(pageBrand('/o/acme').help, 'https://help2.acme.test/');
    fail = true;
    now += PAGE_BRAND_TTL_MS + 1;
    pageBrand('/o/acme');
    await new Promise((r) => setImmediate(r));
    assert.equal(pageBrand('/o/acme').help, 'https://help2.acme.test/');
    assert.equal(reads, 3);
  });
});

describe('the page frame over HTTP', () => {
  const fx = withServer({ env: { LATCHKEY_SUPPORT_EMAIL: 'help@example.test' } });
  let admin: User;
  let acmeAdmin: User;
  before(async () => {
    const { server } = fx;
    admin = await signedInUser(server, uniqueName('frameadm'));
    await server.deps.organizations.addAdmin('default', admin.username, 'admin', systemContext('test'));
    const acme = await server.deps.organizations.create(
      { slug: 'acme', name: 'Acme', displayName: 'Acme Sign-in' },
      systemContext(),
    );
    acmeAdmin = await signedInUser(server, uniqueName('acmeadm'));
    await server.deps.db
      .updateTable('accounts')
      .set({ org_id: acme.id })
      .where('username_key', '=', acmeAdmin.username.toLowerCase())
      .execute();
    await server.deps.organizations.addAdmin('acme', acmeAdmin.username, 'admin', systemContext('test'));
  });

  test('17 brand: a "Help" link in every page header, to the install’s address, its page once set, and an organization’s own', async () => {
    const c = fx.server.client();
    const login = await c.get('/login', html);
    assert.deepEqual(help(login.text), ['mailto:help@example.test', 'Help']);
    assert.deepEqual(help((await c.get('/o/acme/login', html)).text), ['mailto:help@example.test', 'Help']);
    assert.deepEqual(help((await c.get('/login', { ...html, 'accept-language': 'de' })).text), [
      'mailto:help@example.test',
      'Hilfe',
    ]);
    assert.deepEqual(help((await c.get('/forgot-password', { ...html, 'accept-language': 'ar' })).text), [
      'mailto:help@example.test',
      'المساعدة',
    ]);
    assert.deepEqual(help((await admin.c.get('/settings', html)).text)?.[0], 'mailto:help@example.test');

    const set = await admin.c.put('/api/v1/organizations/default/brand', { supportUrl: 'https://help.install.test/' });
    assert.equal(set.status, 200, set.text);
    assert.equal(help((await c.get('/login', html)).text)?.[0], 'https://help.install.test/', 'shown at once');
    assert.equal(
      help((await c.get('/o/acme/login', html)).text)?.[0],
      'mailto:help@example.test',
      "another organization keeps the install's settings",
    );

    const contact = await acmeAdmin.c.put('/api/v1/organizations/acme/brand', { supportContact: 'desk@acme.test' });
    assert.equal(contact.status, 200, contact.text);
    assert.equal(help((await c.get('/o/acme/login', html)).text)?.[0], 'mailto:desk@acme.test');
    await acmeAdmin.c.put('/api/v1/organizations/acme/brand', { supportUrl: 'https://help.acme.test/' });
    assert.equal(help((await c.get('/o/acme/register', html)).text)?.[0], 'https://help.acme.test/');
    assert.equal(help((await c.get('/o/acme/forgot-password', html)).text)?.[0], 'https://help.acme.test/');
    assert.equal(help((await c.get('/login', html)).text)?.[0], 'https://help.install.test/');

    await admin.c.put('/api/v1/organizations/default/brand', { supportUrl: null });
    assert.equal(help((await c.get('/login', html)).text)?.[0], 'mailto:help@example.test');
  });

  test('17 brand: an organization with a logo has it as its pages’ favicon (exact type, nosniff, versioned year-long cache); others keep /static/favicon.svg', async () => {
    const c = fx.server.client();
    assert.deepEqual(icon((await c.get('/o/acme/login', html)).text), ['/static/favicon.svg', 'image/svg+xml']);
    const up = await acmeAdmin.c.put('/api/v1/organizations/acme/logo', {
      contentType: 'image/png',
      data: PNG.toString('base64'),
    });
    assert.equal(up.status, 200, up.text);
    const [href, type] = icon((await c.get('/o/acme/login', html)).text) ?? [];
    assert.match(href, /^\/brand\/acme\/logo\?v=\d+$/);
    assert.equal(type, 'image/png');
    assert.equal(new URL(up.json.logoUrl).search, new URL(href, fx.server.base).search, 'the current version');
    const res = await fetch(`${fx.server.base}${href}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);
    assert.deepEqual(
      icon((await c.get('/login', html)).text),
      ['/static/favicon.svg', 'image/svg+xml'],
      'the install has no logo',
    );

    assert.equal((await acmeAdmin.c.delete('/api/v1/organizations/acme/logo')).status, 200);
    assert.deepEqual(icon((await c.get('/o/acme/login', html)).text), ['/static/favicon.svg', 'image/svg+xml']);
  });

  test('17 brand: mails keep the light brand colour for their button (mail clients have no dark scheme of ours)', async () => {
    const r = await acmeAdmin.c.put('/api/v1/organizations/acme/brand', {
      primaryColor: '#0b5394',
      primaryColorDark: '#ffa657',
    });
    assert.equal(r.status, 200, r.text);
    const sent = await acmeAdmin.c.post('/api/v1/account/password-reset-email');
    assert.ok(sent.status < 300, sent.text);
    await waitForDevMail(fx.server, (m) => m.to === acmeAdmin.email && /Acme Sign-in/.test(m.subject));
    const body = (
      await fx.server.deps.db
        .selectFrom('dev_mailbox')
        .select('body_html')
        .where('recipient', '=', acmeAdmin.email)
        .orderBy('created_at', 'desc')
        .executeTakeFirstOrThrow()
    ).body_html;
    assert.match(body, /background:#0b5394/);
    assert.doesNotMatch(body, /#ffa657/);
  });
});
