import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { systemContext } from '../../src/context.ts';
import { authRequest, follow, registerClient, signInThrough } from '../apps/op-support.ts';
import { activeAccount, uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import type { Client } from '../support/http.ts';
import { strongPassword, type TestServer, waitForDevMail } from '../support/server.ts';

// Issue 17 in the apps and organizations areas: an organization's default language (its pages,
// its settings API and admin form), the OpenID Provider's locale claim and ui_locales, and the
// consent page in other languages.

const html = (lang?: string): Record<string, string> => ({
  accept: 'text/html',
  ...(lang ? { 'accept-language': lang } : {}),
});
const langOf = (page: string) => /<html lang="([^"]+)"/.exec(page)?.[1];
const decode = (s: string) =>
  s
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

/** A signed-in account registered into an organization, made its owner. */
async function orgOwner(server: TestServer, slug: string, headers: Record<string, string> = {}) {
  const username = uniqueName('own');
  const email = `${username}@example.test`;
  const password = strongPassword();
  const c = server.client({ headers });
  const reg = await c.post(`/api/v1/organizations/${slug}/registrations`, { username, email, password });
  assert.equal(reg.status, 202, reg.text);
  const mail = await waitForDevMail(server, (m) => m.to.includes(email) && /activat/i.test(m.subject));
  const token = /\/activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  assert.equal((await c.post('/api/v1/activations', { token })).status, 200);
  await server.deps.organizations.addAdmin(slug, username, 'owner', systemContext('test'));
  assert.equal((await c.post('/api/v1/sessions', { identifier: username, password })).status, 201);
  return { username, c };
}

const form = (c: Client, path: string, fields: Record<string, string>, lang?: string) =>
  c.post(path, new URLSearchParams(fields).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
    ...html(lang),
  });

describe('issue 17: organization default language, locale claim, consent page', () => {
  const fx = withServer();
  let owner: { username: string; c: Client };
  before(async () => {
    await fx.server.deps.organizations.create(
      { slug: 'lingua', name: 'Lingua', displayName: 'Lingua' },
      systemContext(),
    );
    owner = await orgOwner(fx.server, 'lingua');
  });

  test("the organization's default language decides /o/{slug}/login when Accept-Language names no offered language, and Accept-Language still wins", async () => {
    // set before any page of the organization is read (each process keeps the default 30 s)
    const put = await owner.c.put('/api/v1/organizations/lingua/security-settings', { defaultLanguage: 'de' });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json, { requireSecondFactor: false, defaultLanguage: 'de' });
    const c = fx.server.client();
    for (const asked of ['ja', 'ja, zh;q=0.5', undefined]) {
      const page = await c.get('/o/lingua/login', html(asked));
      assert.equal(page.status, 200);
      assert.equal(langOf(page.text), 'de', `Accept-Language ${asked}`);
      assert.match(page.text, /Sprache/);
    }
    const french = await c.get('/o/lingua/login', html('fr-CA, de;q=0.5'));
    assert.equal(langOf(french.text), 'fr', 'Accept-Language wins over the organization');
    const arabic = await c.get('/o/lingua/login', html('ar'));
    assert.match(arabic.text, /<html lang="ar" dir="rtl"/);
    // the install's other pages are not the organization's
    assert.equal(langOf((await c.get('/login', html('ja'))).text), 'en');
  });

  test('the setting in the API: GET shows it, null clears it, an unknown language is a 400 naming the offered ones (in the request language)', async () => {
    const get = await owner.c.get('/api/v1/organizations/lingua/security-settings');
    assert.equal(get.status, 200);
    assert.equal(get.json.defaultLanguage, 'de');
    for (const bad of ['xx', 'de-CH', 'klingon', 7, '']) {
      const r = await owner.c.put('/api/v1/organizations/lingua/security-settings', { defaultLanguage: bad });
      assert.equal(r.status, 400, `${bad}: ${r.text}`);
    }
    const german = await owner.c.request(
      'PUT',
      '/api/v1/organizations/lingua/security-settings',
      { defaultLanguage: 'xx' },
      { 'accept-language': 'de' },
    );
    assert.equal(german.status, 400);
    assert.equal(german.json.errors?.[0]?.field, 'defaultLanguage', german.text);
    assert.match(german.json.errors[0].message, /Wählen Sie eine dieser Sprachen: en, de, fr, es, pt-BR, ar\./);
    assert.equal((await owner.c.get('/api/v1/organizations/lingua/security-settings')).json.defaultLanguage, 'de');
    const upper = await owner.c.put('/api/v1/organizations/lingua/security-settings', { defaultLanguage: 'PT-br' });
    assert.equal(upper.json.defaultLanguage, 'pt-BR', 'the offered spelling');
    const both = await owner.c.put('/api/v1/organizations/lingua/security-settings', { requireSecondFactor: false });
    assert.equal(both.json.defaultLanguage, 'pt-BR', 'a field left out keeps its value');
    const cleared = await owner.c.put('/api/v1/organizations/lingua/security-settings', { defaultLanguage: null });
    assert.equal(cleared.status, 200);
    assert.deepEqual(cleared.json, { requireSecondFactor: false, defaultLanguage: null });
    // a member may not
    const member = await activeAccount(fx.server);
    const m = fx.server.client();
    await m.post('/api/v1/sessions', { identifier: member.username, password: member.password });
    assert.equal(
      (await m.put('/api/v1/organizations/lingua/security-settings', { defaultLanguage: 'fr' })).status,
      403,
    );
    // documented
    const doc = (await fx.server.client().get('/api/openapi.json')).json;
    const op = doc.paths['/api/v1/organizations/{slug}/security-settings'];
    const body = op.put.requestBody.content['application/json'].schema.properties.defaultLanguage;
    assert.match(body.description, /LATCHKEY_DEFAULT_LOCALE/);
    assert.match(JSON.stringify(op.get.responses['200']), /"pt-BR"/);
  });

  test('the setting on the admin page: a select of the offered languages and the install default; saved; a 400 on an unknown one', async () => {
    const page = await owner.c.get('/admin/organization?org=lingua', html());
    assert.equal(page.status, 200);
    const select = /<select id="f-default-language" name="defaultLanguage"[\s\S]*?<\/select>/.exec(page.text)?.[0];
    assert.ok(select, 'a language select');
    assert.match(decode(select), /<option value="" selected>The install's default \(English\)<\/option>/);
    for (const l of ['en', 'de', 'fr', 'es', 'pt-BR', 'ar']) assert.match(select, new RegExp(`value="${l}"`));

    const saved = await form(owner.c, '/admin/organization/security?org=lingua', { defaultLanguage: 'fr' });
    assert.equal(saved.status, 303, saved.text);
    assert.equal(saved.headers.get('location'), '/admin/organization?org=lingua&saved=language#language');
    assert.equal((await fx.server.deps.organizations.bySlug('lingua'))?.security.defaultLanguage, 'fr');
    const after = await owner.c.get('/admin/organization?org=lingua&saved=language', html());
    assert.match(after.text, /Language saved\./);
    assert.match(after.text, /<option value="fr" lang="fr" selected>/);

    const bad = await form(owner.c, '/admin/organization/security?org=lingua', { defaultLanguage: 'xx' }, 'de');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /Wählen Sie eine dieser Sprachen/);
    assert.match(bad.text, /Sprache für Lingua/);
    assert.equal((await fx.server.deps.organizations.bySlug('lingua'))?.security.defaultLanguage, 'fr', 'unchanged');

    const reset = await form(owner.c, '/admin/organization/security?org=lingua', { defaultLanguage: '' });
    assert.equal(reset.status, 303);
    assert.equal((await fx.server.deps.organizations.bySlug('lingua'))?.security.defaultLanguage, null);
    // the sign-in rules form still changes only its own field
    await form(owner.c, '/admin/organization/security?org=lingua', { defaultLanguage: 'es' });
    const rules = await owner.c.post(
      '/admin/organization/security?org=lingua',
      'requireSecondFactor=0&requireSecondFactor=1',
      { 'content-type': 'application/x-www-form-urlencoded', ...html() },
    );
    assert.equal(rules.headers.get('location'), '/admin/organization?org=lingua&saved=security');
    const org = await fx.server.deps.organizations.bySlug('lingua');
    assert.deepEqual(org?.security, { requireSecondFactor: true, defaultLanguage: 'es' });
    await owner.c.put('/api/v1/organizations/lingua/security-settings', { requireSecondFactor: false });

    // the page itself in German
    const de = await owner.c.get('/admin/organization?org=lingua', html('de'));
    assert.equal(langOf(de.text), 'de');
    assert.match(de.text, /<title>Organisationseinstellungen/);
    assert.match(de.text, /Standardsprache/);
  });

  test("a mail outside the member's request may take the organization's default (mailLocaleFor)", async () => {
    await owner.c.put('/api/v1/organizations/lingua/security-settings', { defaultLanguage: 'fr' });
    const row = async () =>
      fx.server.deps.db
        .selectFrom('accounts')
        .selectAll()
        .where('username', '=', owner.username)
        .executeTakeFirstOrThrow();
    assert.equal(await fx.server.deps.organizations.mailLocaleFor(await row()), 'fr');
    assert.equal((await owner.c.put('/api/v1/account/language', { language: 'ar' })).status, 200);
    assert.equal(await fx.server.deps.organizations.mailLocaleFor(await row()), 'ar', "the account's own choice first");
    await owner.c.put('/api/v1/account/language', { language: null });
    await owner.c.put('/api/v1/organizations/lingua/security-settings', { defaultLanguage: null });
    assert.equal(await fx.server.deps.organizations.mailLocaleFor(await row()), null);
  });

  test("the OpenID Provider's locale claim is the account's language, else the install default", async () => {
    const app = await registerClient(fx.server, { firstParty: true });
    const acct = await activeAccount(fx.server);
    const c = fx.server.client();
    assert.equal(
      (await c.post('/api/v1/sessions', { identifier: acct.username, password: acct.password })).status,
      201,
    );
    const plain = await signInThrough(c, app);
    const claims = plain.tokens.claims();
    assert.ok(claims);
    const info = await oidc.fetchUserInfo(app.config, plain.tokens.access_token, claims.sub);
    assert.equal(info.locale, 'en', 'no saved language: the install default');

    assert.equal((await c.put('/api/v1/account/language', { language: 'pt-BR' })).status, 200);
    const chosen = await signInThrough(c, app);
    const info2 = await oidc.fetchUserInfo(app.config, chosen.tokens.access_token, claims.sub);
    assert.equal(info2.locale, 'pt-BR');
  });

  test('the consent page in German (Accept-Language, the account language) and in the language ui_locales asks for', async () => {
    const app = await registerClient(fx.server);
    const acct = await activeAccount(fx.server);
    const c = fx.server.client({ headers: { 'accept-language': 'de-DE,de;q=0.9' } });
    assert.equal(
      (await c.post('/api/v1/sessions', { identifier: acct.username, password: acct.password })).status,
      201,
    );
    const page = await follow(c, (await authRequest(app.config)).url.href);
    assert.equal(page.status, 200, page.text.slice(0, 300));
    assert.equal(langOf(page.text), 'de');
    assert.match(page.text, /<title>Zugriff erlauben\?/);
    assert.match(
      page.text,
      new RegExp(`<strong>Photo printer</strong> möchte Ihr Konto <strong>${acct.username}</strong>`),
    );
    assert.match(page.text, /Ihre E-Mail-Adresse sehen/);
    assert.match(page.text, />\s*Erlauben\s*</);

    // ui_locales: the first offered one wins on the interaction pages
    const asked = await follow(c, (await authRequest(app.config, { ui_locales: 'ja ar fr' })).url.href);
    assert.match(asked.text, /<html lang="ar" dir="rtl"/);
    assert.match(asked.text, /هل تسمح بالوصول؟/);

    // the account's own language, whatever the browser says
    const en = fx.server.client();
    await en.post('/api/v1/sessions', { identifier: acct.username, password: acct.password });
    assert.equal((await en.put('/api/v1/account/language', { language: 'de' })).status, 200);
    const own = await follow(en, (await authRequest(app.config)).url.href);
    assert.equal(langOf(own.text), 'de');
    assert.match(own.text, /Sie können diesen Zugriff jederzeit unter Einstellungen → Apps widerrufen\./);

    // an expired request, in the browser's language
    const gone = await c.get('/oidc/interaction/nonexistent', html('es'));
    assert.equal(gone.status, 400);
    assert.match(decode(gone.text), /Esta solicitud de inicio de sesión ha caducado/);

    // the pages oidc-provider renders through Latchkey's hooks speak the request's language too
    const refused = await c.get('/oidc/auth?client_id=nope&response_type=code&scope=openid', html('fr'));
    assert.equal(refused.status, 400);
    assert.match(decode(refused.text), /<title>Demande de connexion refusée/);
    const logout = await c.get('/oidc/session/end', html('fr'));
    assert.match(decode(logout.text), /Voulez-vous aussi vous déconnecter de Latchkey \?/);
  });
});
