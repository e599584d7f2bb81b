import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withLocale } from '../../src/i18n/index.ts';
import { deviceName } from '../../src/web/device.tsx';
import { signedInUser } from '../phone/helpers.ts';
import { uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import type { Client } from '../support/http.ts';
import { type TestServer, waitForDevMail } from '../support/server.ts';

// Issue 17 in the profile area: the Language section of /settings, error pages, the profile's
// mails and device names in other languages.

const html = (lang: string) => ({ accept: 'text/html', 'accept-language': lang });
const langOf = (page: string) => /<html lang="([^"]+)" dir="([^"]+)"/.exec(page)?.slice(1);

/** A second browser for the same account: a session cookie and nothing else. */
async function freshBrowser(server: TestServer, username: string, password: string): Promise<Client> {
  const c = server.client();
  const s = await c.post('/api/v1/sessions', { identifier: username, password });
  assert.equal(s.status, 201, s.text);
  assert.equal(c.cookies.has('latchkey_lang'), false);
  return c;
}

async function savedLocale(server: TestServer, username: string): Promise<string | null> {
  const row = await server.deps.db
    .selectFrom('accounts')
    .select('locale')
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
  return row.locale;
}

describe('the profile area in other languages', () => {
  const fx = withServer();

  test('the Language section saves the account language; another browser then gets it whatever it asks for', async () => {
    const u = await signedInUser(fx.server, uniqueName('lang'));
    const page = (await u.c.get('/settings', html('en'))).text;
    assert.match(page, /<section class="card" id="language"/);
    assert.match(page, /<h2 id="language-h">Language<\/h2>/);
    assert.match(page, /Your pages follow your browser's language \(now English\)\./);
    assert.match(page, /<input type="radio" id="language-auto" name="language" value="auto" checked/);
    assert.match(page, /<label for="language-de" lang="de">Deutsch<\/label>/);

    const saved = await u.c.form('/language', { language: 'de', back: '/settings?done=language_saved#language' });
    assert.equal(saved.status, 303);
    assert.equal(saved.headers.get('location'), '/settings?done=language_saved#language');
    assert.equal(await savedLocale(fx.server, u.username), 'de');

    // The same browser lands on the section with its notice in German.
    const back = (await u.c.get('/settings?done=language_saved', html('en'))).text;
    assert.deepEqual(langOf(back), ['de', 'ltr']);
    assert.match(back, /Ihre Sprachauswahl wurde gespeichert\./);

    // A browser without the picker's cookie that prefers French still gets German: the account decides.
    const other = await freshBrowser(fx.server, u.username, u.password);
    const de = (await other.get('/settings', html('fr'))).text;
    assert.deepEqual(langOf(de), ['de', 'ltr']);
    assert.match(de, /<h2 id="language-h">Sprache<\/h2>/);
    assert.match(de, /Ihre Seiten und E-Mails sind auf jedem Browser in Deutsch\./);
    assert.match(de, /<input type="radio" id="language-de" name="language" value="de" checked/);
    assert.match(de, /E-Mail-Adresse ändern/);
    assert.match(de, /Letzte Sicherheitsaktivitäten/);
  });

  test('"Same as my browser" forgets the account language and the cookie; Accept-Language decides again', async () => {
    const u = await signedInUser(fx.server, uniqueName('auto'));
    await u.c.form('/language', { language: 'ar', back: '/settings' });
    assert.equal(u.c.cookies.get('latchkey_lang'), 'ar');
    assert.equal(await savedLocale(fx.server, u.username), 'ar');
    const ar = (await u.c.get('/settings', html('es'))).text;
    assert.deepEqual(langOf(ar), ['ar', 'rtl']);
    assert.match(ar, /مثل لغة متصفحي/);

    const auto = await u.c.form('/language', { language: 'auto', back: '/settings?done=language_saved#language' });
    assert.equal(auto.status, 303);
    assert.match(auto.headers.get('set-cookie') ?? '', /latchkey_lang=; Path=\/; Max-Age=0/);
    assert.equal(u.c.cookies.has('latchkey_lang'), false);
    assert.equal(await savedLocale(fx.server, u.username), null);

    const es = (await u.c.get('/settings?done=language_saved', html('es'))).text;
    assert.deepEqual(langOf(es), ['es', 'ltr']);
    assert.match(es, /Se guardó su elección de idioma\./);
    assert.match(es, /Sus páginas siguen el idioma de su navegador \(ahora Español\)\./);
    assert.match(es, /<input type="radio" id="language-auto" name="language" value="auto" checked/);
    const fr = (await (await freshBrowser(fx.server, u.username, u.password)).get('/settings', html('fr'))).text;
    assert.deepEqual(langOf(fr), ['fr', 'ltr']);
    assert.match(fr, /Comme mon navigateur/);

    // A language that is not offered is refused, and nothing changes.
    const bad = await u.c.form('/language', { language: 'xx', back: '/settings' });
    assert.equal(bad.status, 400);
    assert.equal(await savedLocale(fx.server, u.username), null);
  });

  test('the not-found page and an error page in German, and in Arabic right to left', async () => {
    const c = fx.server.client();
    const de = await c.get('/no-such-page', html('de'));
    assert.equal(de.status, 404);
    assert.deepEqual(langOf(de.text), ['de', 'ltr']);
    assert.match(de.text, /<title>Seite nicht gefunden · /);
    assert.match(de.text, /Diese Seite gibt es nicht\. <a href="\/login">Zur Anmeldung<\/a>/);

    const ar = await c.get('/no-such-page', html('ar'));
    assert.equal(ar.status, 404);
    assert.deepEqual(langOf(ar.text), ['ar', 'rtl']);
    assert.match(ar.text, /<h1>الصفحة غير موجودة<\/h1>/);
    assert.match(ar.text, /<a href="\/login">الانتقال إلى تسجيل الدخول<\/a>/);

    // A page error: a sign-in provider that is not enabled.
    const provider = await c.get('/auth/nope/start', html('de'));
    assert.equal(provider.status, 404);
    assert.match(provider.text, /<h1>Anmeldeanbieter nicht gefunden<\/h1>/);
    assert.match(provider.text, /Dieser Anmeldeanbieter ist nicht aktiviert\./);
    assert.match(provider.text, /Zurück zur Anmeldung/);

    // The shared error page (a language that is not offered), in German and in Arabic.
    const form = (lang: string) =>
      c.request('POST', '/language', 'language=xx&back=%2Fsettings', {
        ...html(lang),
        'content-type': 'application/x-www-form-urlencoded',
      });
    const deError = await form('de');
    assert.equal(deError.status, 400);
    assert.deepEqual(langOf(deError.text), ['de', 'ltr']);
    assert.match(deError.text, /<h1>Das war leider nicht möglich<\/h1>/);
    assert.match(deError.text, /Wählen Sie eine dieser Sprachen/);
    assert.match(deError.text, /<a href="\/login">Zurück zur Anmeldung<\/a>/);
    const arError = await form('ar');
    assert.deepEqual(langOf(arError.text), ['ar', 'rtl']);
    assert.match(arError.text, /<h1>تعذّر تنفيذ ذلك<\/h1>/);
    assert.match(arError.text, /<a href="\/login">العودة إلى تسجيل الدخول<\/a>/);

    // The page the mailed link opens, with a link that no longer works, in German.
    const verify = await c.get('/settings/email/verify?token=stale', html('de'));
    assert.equal(verify.status, 400);
    assert.match(verify.text, /<h1>Neue E-Mail-Adresse bestätigen<\/h1>/);
    assert.match(verify.text, /<a href="\/login">Anmelden<\/a>/);
  });

  test("the email-change mails go out in the account's language, whatever the request's", async () => {
    const server = fx.server;
    const u = await signedInUser(server, uniqueName('mail'));
    assert.equal((await u.c.put('/api/v1/account/language', { language: 'de' })).status, 200);
    // An owner of another address, who reads French.
    const other = await signedInUser(server, uniqueName('autre'));
    assert.equal((await other.c.put('/api/v1/account/language', { language: 'fr' })).status, 200);

    const taken = await u.c.put('/api/v1/account/email', { email: other.email }, { 'accept-language': 'en' });
    assert.equal(taken.status, 202, taken.text);
    assert.match(taken.json.message, /^Wir haben einen Link und einen Code an /);
    const refused = await waitForDevMail(server, (m) => m.to === other.email && /compte/.test(m.subject));
    assert.match(refused.subject, /^Vous avez déjà un compte/);

    const address = `${u.username}.neu@example.test`.toLowerCase();
    const started = await u.c.put('/api/v1/account/email', { email: address }, { 'accept-language': 'en' });
    assert.equal(started.status, 202, started.text);
    const verify = await waitForDevMail(server, (m) => m.to === address);
    assert.match(verify.subject, /^Bestätigen Sie Ihre neue E-Mail-Adresse/);
    assert.match(verify.text, new RegExp(`Das Konto ${u.username} möchte ab jetzt diese Adresse verwenden\\.`));
    assert.match(verify.text, /Der Link und der Code laufen in 30 Minuten ab\./);
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(verify.text)?.[1];
    assert.ok(token, verify.text);

    // The link opened signed out, in a browser asking for English: the notices are still German.
    const anon = server.client();
    const ok = await anon.post('/api/v1/account/email/confirmation', { token }, { 'accept-language': 'en' });
    assert.equal(ok.status, 200, ok.text);
    const notice = await waitForDevMail(server, (m) => m.to === u.email && /geändert/.test(m.subject));
    assert.match(notice.subject, /^Ihre E-Mail-Adresse wurde geändert/);
    assert.match(notice.text, new RegExp(`von dieser Adresse auf ${address.replace(/\./g, '\\.')} geändert`));
    assert.match(notice.text, /Das waren nicht Sie\?.*\/forgot-password/);
    const html5 = (await server.client().get('/dev/mailbox.json')).json.messages.find(
      (m: { to: string; subject: string }) => m.to === u.email && /geändert/.test(m.subject),
    );
    assert.match(html5.html, /<html lang="de" dir="ltr">/);
  });

  test('device names in German and Arabic', () => {
    const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
    const iphone =
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
    withLocale('de', () => {
      assert.equal(deviceName(firefox), 'Firefox auf Windows');
      assert.equal(deviceName(iphone), 'Mobile Safari auf iOS (Smartphone)');
      assert.equal(deviceName(null), 'Unbekannter Browser');
      assert.equal(deviceName('curl/8.5.0'), 'curl');
    });
    withLocale('ar', () => assert.equal(deviceName(firefox), 'Firefox على Windows'));
    withLocale('en', () => assert.equal(deviceName(iphone), 'Mobile Safari on iOS (phone)'));
  });
});
