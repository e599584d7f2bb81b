import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { systemContext } from '../../src/context.ts';
import { senderOf } from '../../src/delivery/sms/gateways.ts';
import { smsSenderId } from '../../src/delivery/templates.ts';
import { contrastRatio, parseHexColor } from '../../src/web/contrast.ts';
import { signedInUser, type User } from '../phone/helpers.ts';
import { uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { waitForDevMail } from '../support/server.ts';

// Brands (issue 17): install-wide colours and support links from typed config, checked for WCAG
// contrast at start; an organization's display name, colours, support contact and logo, set by
// its admins, served from /brand/{slug}/logo and on pages (theme.css) and in mails.

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

describe('brand colours in the configuration', () => {
  test('WCAG contrast ratios are computed as the spec says', () => {
    assert.equal(contrastRatio('#000000', '#ffffff').toFixed(2), '21.00');
    assert.equal(contrastRatio('#777777', '#ffffff').toFixed(2), '4.48');
    assert.equal(contrastRatio('#1f5fbf', '#ffffff') >= 4.5, true);
    assert.equal(parseHexColor('#ABC'), '#aabbcc');
    for (const bad of ['blue', '#12345', 'rgb(0,0,0)', '#1234567', 12, null])
      assert.equal(parseHexColor(bad), undefined);
  });

  test('the defaults pass; a colour below 4.5:1 in its scheme, or not a colour, stops the start with a clear message', () => {
    const ok = loadConfig({});
    assert.equal(ok.brand.primaryColor, '#1f5fbf');
    assert.equal(ok.brand.primaryColorDark, '#79b8ff');
    assert.equal(loadConfig({ LATCHKEY_BRAND_COLOR: '#0B5394' }).brand.primaryColor, '#0b5394');
    for (const [env, value, pattern] of [
      ['LATCHKEY_BRAND_COLOR', '#ffff00', /LATCHKEY_BRAND_COLOR: #ffff00 has a contrast of 1\.07:1 .*4\.5:1/],
      ['LATCHKEY_BRAND_COLOR', '#79b8ff', /LATCHKEY_BRAND_COLOR: .*darker/],
      ['LATCHKEY_BRAND_COLOR', 'blue', /LATCHKEY_BRAND_COLOR: must be a colour/],
      ['LATCHKEY_BRAND_COLOR_DARK', '#1f5fbf', /LATCHKEY_BRAND_COLOR_DARK: .*lighter/],
      ['LATCHKEY_SUPPORT_EMAIL', 'not-an-address', /LATCHKEY_SUPPORT_EMAIL/],
      ['LATCHKEY_SUPPORT_URL', 'nope', /LATCHKEY_SUPPORT_URL/],
    ] as const)
      assert.throws(() => loadConfig({ [env]: value }), pattern, `${env}=${value}`);
  });
});

describe('an organization brand (API, theme, logo, mails)', () => {
  const fx = withServer({
    env: { LATCHKEY_SUPPORT_URL: 'https://help.example.test/', LATCHKEY_SUPPORT_EMAIL: 'help@example.test' },
  });
  let admin: User;
  let member: User;
  const put = (u: User, body: unknown) => u.c.put('/api/v1/organizations/default/brand', body);
  const upload = (u: User, contentType: string, data: Buffer | string) =>
    u.c.put('/api/v1/organizations/default/logo', {
      contentType,
      data: typeof data === 'string' ? data : data.toString('base64'),
    });

  test('admins set the brand; members get 403; colours below 4.5:1, bad links and unknown fields are 400 and change nothing', async () => {
    const { server } = fx;
    admin = await signedInUser(server, uniqueName('bradmin'));
    member = await signedInUser(server, uniqueName('brmember'));
    await server.deps.organizations.addAdmin('default', admin.username, 'admin', systemContext('test'));

    const view = await admin.c.get('/api/v1/organizations/default/brand');
    assert.equal(view.status, 200, view.text);
    assert.equal(view.json.primaryColor, '#1f5fbf');
    assert.equal(view.json.supportUrl, 'https://help.example.test/');

    assert.equal((await put(member, { displayName: 'Evil' })).status, 403);
    assert.equal((await member.c.get('/api/v1/organizations/default/brand')).status, 403);

    for (const [body, field] of [
      [{ primaryColor: '#ffff00' }, 'primaryColor'],
      [{ primaryColorDark: '#000080' }, 'primaryColorDark'],
      [{ primaryColor: 'red' }, 'primaryColor'],
      [{ supportUrl: 'javascript:alert(1)' }, 'supportUrl'],
      [{ displayName: 'bad\u0000name' }, 'displayName'],
    ] as const) {
      const r = await put(admin, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.errors?.[0]?.field ?? field, field, r.text);
    }
    const contrast = await put(admin, { primaryColor: '#ffff00' });
    assert.match(contrast.json.errors[0].message, /1\.07:1.*4\.5:1/);
    for (const body of [{ color: '#000000' }, { displayName: 5 }, { displayName: 'x'.repeat(101) }])
      assert.equal((await put(admin, body)).status, 400, JSON.stringify(body));
    assert.equal((await admin.c.get('/api/v1/organizations/default/brand')).json.primaryColor, '#1f5fbf');

    const ok = await put(admin, {
      displayName: 'Acme',
      primaryColor: '#0B5394',
      primaryColorDark: '#9ecbff',
      supportContact: 'the Acme help desk',
      supportUrl: 'https://help.acme.test/',
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.primaryColor, '#0b5394');
    assert.equal(ok.json.displayName, 'Acme');
    const css = await server.client().get('/o/default/brand/theme.css');
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.match(css.text, /--accent:#0b5394/);
    const install = await server.client().get('/brand/theme.css');
    assert.match(install.text, /--accent:#0b5394/, "pages outside /o/… wear the default organization's brand");
    assert.equal(install.headers.get('cache-control'), 'public, max-age=300');
    const mine = await member.c.get('/brand/theme.css');
    assert.match(mine.text, /--accent:#0b5394/);
    assert.equal(
      mine.headers.get('cache-control'),
      'private, max-age=300',
      "a member's theme is not for shared caches",
    );
    assert.equal((await server.client().get('/o/nope/brand/theme.css')).status, 404);
    // The admin page: members are refused (audited), a contrast error keeps what was typed.
    const refused = await member.c.get('/admin/organization/brand?org=default', { accept: 'text/html' });
    assert.equal(refused.status, 403);
    const typed = await admin.c.form('/admin/organization/brand?org=default', {
      displayName: 'Typed Name',
      primaryColor: '#ffff00',
      primaryColorDark: '#79b8ff',
    });
    assert.equal(typed.status, 400);
    assert.match(typed.text, /value="Typed Name"/);
    assert.match(typed.text, /contrast of 1\.07:1/);
  });

  test('a logo: PNG/JPEG/WebP only (SVG refused), at most 256 KB, checked by its bytes; served with a strict type, nosniff and a versioned year-long cache', async () => {
    const { server } = fx;
    const svg = await upload(admin, 'image/svg+xml', SVG);
    assert.equal(svg.status, 415, svg.text);
    assert.match(svg.json.detail, /SVG logos are refused/);
    const disguised = await upload(admin, 'image/png', SVG);
    assert.equal(disguised.status, 400);
    assert.equal(disguised.json.errors[0].code, 'type_mismatch');
    assert.equal((await upload(admin, 'text/html', PNG)).status, 400, 'not a type the schema allows');
    assert.equal((await upload(admin, 'image/png', 'not base64!')).status, 400);
    const big = Buffer.concat([PNG, Buffer.alloc(256 * 1024)]);
    assert.equal((await upload(admin, 'image/png', big)).status, 413);
    assert.equal((await upload(member, 'image/png', PNG)).status, 403);
    assert.equal((await server.client().get('/brand/default/logo')).status, 404, 'nothing stored yet');

    const ok = await upload(admin, 'image/png', PNG);
    assert.equal(ok.status, 200, ok.text);
    const url = new URL(ok.json.logoUrl);
    assert.match(url.pathname, /^\/brand\/default\/logo$/);
    const res = await fetch(`${server.base}${url.pathname}${url.search}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);
    const stale = await fetch(`${server.base}/brand/default/logo?v=1`);
    assert.equal(stale.headers.get('cache-control'), 'public, max-age=300', 'another version is not cached for long');
    await stale.arrayBuffer();
    assert.match((await server.client().get('/o/default/brand/theme.css')).text, /\/brand\/default\/logo\?v=/);
    assert.ok([404, 414].includes((await server.client().get(`/brand/${'x'.repeat(300)}/logo`)).status));
  });

  test('mails carry the organization brand: name, button colour, logo and support link', async () => {
    const { server } = fx;
    const r = await member.c.post('/api/v1/account/password-reset-email');
    assert.ok(r.status < 300, r.text);
    const mail = await waitForDevMail(server, (m) => m.to === member.email && /Acme/.test(m.subject));
    const html = (
      await server.deps.db
        .selectFrom('dev_mailbox')
        .select('body_html')
        .where('recipient', '=', member.email)
        .orderBy('created_at', 'desc')
        .executeTakeFirstOrThrow()
    ).body_html;
    assert.match(html, /background:#0b5394/);
    assert.match(html, /<img src="http:\/\/127\.0\.0\.1:\d+\/brand\/default\/logo\?v=\d+" alt="Acme"/);
    assert.match(mail.text, /Contact the Acme help desk \(help@example\.test, https:\/\/help\.acme\.test\/\)/);

    const removed = await admin.c.delete('/api/v1/organizations/default/logo');
    assert.equal(removed.status, 200);
    assert.equal((await server.client().get('/brand/default/logo')).status, 404);
    const reset = await put(admin, { primaryColor: null, displayName: 'Latchkey' });
    assert.equal(reset.json.primaryColor, '#1f5fbf', 'null returns to the install default');
  });
});

describe('the SMS sender name from the brand (LATCHKEY_SMS_BRAND_SENDER)', () => {
  const fx = withServer({ env: { LATCHKEY_SMS_BRAND_SENDER: 'true', LATCHKEY_PRODUCT_NAME: 'Acme Bank & Co.' } });

  test("names become alphanumeric sender ids of at most 11 characters; gateways use the message's own sender", () => {
    assert.equal(smsSenderId('Acme Bank & Co.'), 'Acme Bank C');
    assert.equal(smsSenderId('Latchkey'), 'Latchkey');
    assert.equal(smsSenderId('12345'), undefined, 'all digits would pass for a number');
    assert.equal(smsSenderId('!!!'), undefined);
    assert.equal(senderOf({ payload: JSON.stringify({ from: 'Acme' }) }, 'Latchkey'), 'Acme');
    assert.equal(senderOf({ payload: null }, 'Latchkey'), 'Latchkey');
    assert.equal(senderOf({ payload: JSON.stringify({ from: '+1 evil; drop' }) }, 'Latchkey'), 'Latchkey');
    assert.equal(senderOf({ payload: '{bad json' }, 'Latchkey'), 'Latchkey');
  });

  test('an SMS to a member goes out under the organization name', async () => {
    const { server } = fx;
    const u = await signedInUser(server, uniqueName('smsbrand'));
    // Held in the outbox: a delivered row's payload is scrubbed with its body.
    await server.deps.worker.stop();
    fx.onStop(() => server.deps.worker.stop());
    const r = await u.c.put('/api/v1/account/phone', { phone: '+447911123456' });
    assert.equal(r.status, 202, r.text);
    const row = await server.deps.db
      .selectFrom('outbox')
      .select('payload')
      .where('kind', '=', 'phone_verify')
      .where('recipient', '=', '+447911123456')
      .executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(row.payload ?? '{}'), { from: 'Acme Bank C' });
    server.deps.worker.start();
  });
});
