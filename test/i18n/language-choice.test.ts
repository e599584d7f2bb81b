import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { systemContext } from '../../src/context.ts';
import { negotiate } from '../../src/i18n/locales.ts';
import { signedInUser } from '../phone/helpers.ts';
import { withServer } from '../support/fixture.ts';

// Issue 17: which language a request gets — the account's saved choice, else the language picked
// on this browser, else Accept-Language, else the organization's default, else
// LATCHKEY_DEFAULT_LOCALE — and the picker that sets it on every page.

const html = { accept: 'text/html' };
const langOf = (page: string) => /<html lang="([^"]+)" dir="(ltr|rtl)"/.exec(page)?.slice(1, 3);
const ALL = ['en', 'de', 'fr', 'es', 'pt-BR', 'ar'];

test('i18n: Accept-Language by weight and order, regional tags find their language, q=0 refuses', () => {
  assert.equal(negotiate('de-DE,de;q=0.9,en;q=0.8', ALL), 'de');
  assert.equal(negotiate('en;q=0.5, fr;q=0.9', ALL), 'fr');
  assert.equal(negotiate('pt-PT', ALL), 'pt-BR');
  assert.equal(negotiate('PT-br', ALL), 'pt-BR');
  assert.equal(negotiate('es-419', ALL), 'es');
  assert.equal(negotiate('ar-EG', ALL), 'ar');
  assert.equal(negotiate('ja, zh;q=0.8', ALL), undefined);
  assert.equal(negotiate('*', ALL), undefined);
  assert.equal(negotiate('de;q=0, fr;q=0.1', ALL), 'fr');
  assert.equal(negotiate('de', ['en', 'fr']), undefined);
  assert.equal(negotiate(`${'xx,'.repeat(5000)}de`, ALL), undefined, 'only the first 20 ranges are read');
  assert.equal(negotiate('', ALL), undefined);
});

test('i18n: LATCHKEY_LOCALES and LATCHKEY_DEFAULT_LOCALE take shipped languages only, with a clear message', () => {
  const ok = loadConfig({ LATCHKEY_LOCALES: 'de, en,ar', LATCHKEY_DEFAULT_LOCALE: 'de' });
  assert.deepEqual(ok.locales, { offered: ['de', 'en', 'ar'], fallback: 'de' });
  assert.deepEqual(loadConfig({}).locales, { offered: ALL, fallback: 'en' });
  assert.throws(() => loadConfig({ LATCHKEY_LOCALES: 'en,klingon' }), /LATCHKEY_LOCALES: "klingon" is not one of/);
  assert.throws(
    () => loadConfig({ LATCHKEY_LOCALES: 'en,de', LATCHKEY_DEFAULT_LOCALE: 'fr' }),
    /LATCHKEY_DEFAULT_LOCALE: "fr" is not one of LATCHKEY_LOCALES/,
  );
});

describe('i18n: the language of a request', () => {
  const fx = withServer();
  before(async () => {
    await fx.server.deps.organizations.create({ slug: 'zorg', name: 'Zorg', displayName: 'Zorg' }, systemContext());
    await fx.server.deps.db
      .updateTable('organizations')
      .set({ default_locale: 'fr' })
      .where('slug', '=', 'zorg')
      .execute();
  });

  test('i18n: Accept-Language, then the organization default, then the install default; Arabic is right to left', async () => {
    const c = fx.server.client();
    assert.deepEqual(langOf((await c.get('/login', { ...html, 'accept-language': 'de-CH, en;q=0.5' })).text), [
      'de',
      'ltr',
    ]);
    assert.deepEqual(langOf((await c.get('/login', { ...html, 'accept-language': 'ar' })).text), ['ar', 'rtl']);
    assert.deepEqual(langOf((await c.get('/login', { ...html, 'accept-language': 'ja' })).text), ['en', 'ltr']);
    // The organization's default speaks when the browser names nothing offered, and only then.
    assert.deepEqual(langOf((await c.get('/o/zorg/login', { ...html, 'accept-language': 'ja' })).text), ['fr', 'ltr']);
    assert.deepEqual(langOf((await c.get('/o/zorg/login', { ...html, 'accept-language': 'es' })).text), ['es', 'ltr']);
    // A problem document speaks the language too.
    const problem = await c.post('/api/v1/sessions', { identifier: 'x' }, { 'accept-language': 'de' });
    assert.equal(problem.status, 400);
    assert.equal(problem.json.title, 'Einige Felder fehlen oder sind ungültig.');
  });

  test('i18n: the picker on every page posts the choice and comes back; it beats Accept-Language on that browser', async () => {
    const c = fx.server.client();
    const page = (await c.get('/forgot-password?x=1', { ...html, 'accept-language': 'en' })).text;
    assert.match(page, /<form method="post" action="\/language" class="language">/);
    assert.match(page, /<input type="hidden" name="back" value="\/forgot-password\?x=1"\/>/);
    for (const name of ['English', 'Deutsch', 'Français', 'Español', 'Português \\(Brasil\\)', 'العربية'])
      assert.match(page, new RegExp(`<option value="[^"]+" lang="[^"]+"[^>]*>${name}</option>`));
    const picked = await c.form('/language', { language: 'es', back: '/forgot-password?x=1' });
    assert.equal(picked.status, 303);
    assert.equal(picked.headers.get('location'), '/forgot-password?x=1');
    assert.deepEqual(langOf((await c.get('/login', { ...html, 'accept-language': 'de' })).text), ['es', 'ltr']);
    // Only our own paths are a way back; an unknown language is a 400 that changes nothing.
    const away = await c.form('/language', { language: 'de', back: '//evil.example/x' });
    assert.equal(away.headers.get('location'), '/login');
    const bad = await c.form('/language', { language: 'xx' });
    assert.equal(bad.status, 400);
    assert.deepEqual(langOf((await c.get('/login', html)).text), ['de', 'ltr']);
  });

  test("i18n: an account's saved language wins on every browser; PUT /account/language sets and clears it", async () => {
    const u = await signedInUser(fx.server, 'polyglot');
    const set = await u.c.put('/api/v1/account/language', { language: 'pt-br' }, { 'accept-language': 'de' });
    assert.equal(set.status, 200);
    assert.deepEqual(set.json, { language: 'pt-BR' });
    assert.equal((await u.c.get('/api/v1/sessions/current')).json.account.language, 'pt-BR');
    // A browser with no picked cookie and another Accept-Language still gets the account's choice.
    u.c.cookies.delete('latchkey_lang');
    assert.deepEqual(langOf((await u.c.get('/settings', { ...html, 'accept-language': 'de' })).text), ['pt-BR', 'ltr']);
    const bad = await u.c.put('/api/v1/account/language', { language: 'tlh' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'validation_failed');
    assert.equal((await u.c.get('/api/v1/sessions/current')).json.account.language, 'pt-BR');
    const cleared = await u.c.put('/api/v1/account/language', { language: null });
    assert.deepEqual(cleared.json, { language: null });
    u.c.cookies.delete('latchkey_lang');
    assert.deepEqual(langOf((await u.c.get('/settings', { ...html, 'accept-language': 'de' })).text), ['de', 'ltr']);
    const anonymous = await fx.server.client().put('/api/v1/account/language', { language: 'de' });
    assert.equal(anonymous.status, 401);
  });

  test('i18n: a form post keeps the language after its body is read (the scope survives body parsing)', async () => {
    const c = fx.server.client();
    const res = await c.request(
      'POST',
      '/login',
      { identifier: 'nobody-here', password: 'wrong password here' },
      { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', 'accept-language': 'ar' },
    );
    assert.deepEqual(langOf(res.text), ['ar', 'rtl']);
    assert.match(res.text, /اسم المستخدم أو البريد الإلكتروني أو كلمة المرور غير صحيحة/);
  });
});
