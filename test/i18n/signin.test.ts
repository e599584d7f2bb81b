import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activeAccount, signedIn, uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword, waitForDevMail } from '../support/server.ts';

// Issue 17 (languages) for sign-in, registration, settings and the password rules: the pages,
// errors and mails of this area in the reader's (or the recipient's) language.

const html = (lang: string) => ({ accept: 'text/html', 'accept-language': lang });
const titleOf = (page: string) => /<title>([^<]*)<\/title>/.exec(page)?.[1];

describe('i18n: sign-in, registration and password rules', () => {
  const fx = withServer();

  test('the sign-in page in German: lang="de", German labels and title', async () => {
    const page = await fx.server.client().get('/login', html('de'));
    assert.equal(page.status, 200);
    assert.match(page.text, /<html lang="de" dir="ltr">/);
    assert.match(titleOf(page.text) ?? '', /^Anmelden · /);
    assert.match(page.text, /Benutzername oder E-Mail-Adresse/);
    assert.match(page.text, /Passwort vergessen\?/);
    assert.match(page.text, /Keine Aktivierungs-E-Mail erhalten\?/);
    assert.doesNotMatch(page.text, /Forgot password\?/);
  });

  test('a ?msg= notice in French', async () => {
    const page = await fx.server.client().get('/login?msg=signed_out', html('fr'));
    assert.match(page.text, /Vous avez été déconnecté\./);
  });

  test('the sign-in page in Arabic is right to left', async () => {
    const page = await fx.server.client().get('/login', html('ar'));
    assert.match(page.text, /<html lang="ar" dir="rtl">/);
    assert.match(page.text, /اسم المستخدم أو عنوان البريد الإلكتروني/);
    assert.match(page.text, /نسيت كلمة المرور؟/);
  });

  test('English stays as it was', async () => {
    const page = await fx.server.client().get('/login', html('en'));
    assert.match(page.text, /<html lang="en" dir="ltr">/);
    assert.match(page.text, /Keep me signed in on this device/);
    const reg = await fx.server.client().get('/register', html('en'));
    assert.match(reg.text, /3 to 32 letters, digits, dots, dashes or underscores\./);
  });

  test('the register page in Spanish and Brazilian Portuguese', async () => {
    const es = await fx.server.client().get('/register', html('es'));
    assert.match(es.text, /<html lang="es"/);
    assert.match(titleOf(es.text) ?? '', /^Crear una cuenta · /);
    assert.match(es.text, /Nombre de usuario/);
    assert.match(es.text, /¿Ya tiene una cuenta\? Iniciar sesión/);
    const pt = await fx.server.client().get('/register', html('pt-BR'));
    assert.match(pt.text, /<html lang="pt-BR"/);
    assert.match(pt.text, /Confirmar senha/);
  });

  test('a password-rule error in German, on the page and from /api/v1/password-checks', async () => {
    const c = fx.server.client({ headers: { 'accept-language': 'de' } });
    const username = uniqueName('kurz');
    const page = await c.form('/register', {
      username,
      email: `${username}@example.test`,
      password: 'kurz',
      passwordConfirm: 'kurz',
    });
    assert.equal(page.status, 400);
    assert.match(page.text, /Verwenden Sie mindestens \d+ Zeichen\./);
    const check = await c.post('/api/v1/password-checks', { password: 'kurz' });
    assert.equal(check.status, 200);
    assert.equal(check.json.ok, false);
    assert.match(check.json.reasons[0].message, /^Verwenden Sie mindestens \d+ Zeichen\.$/);
    // zxcvbn's remark comes from our catalogs too.
    const weak = await c.post('/api/v1/password-checks', { password: 'qwertzuiopasdf' });
    const reason = weak.json.reasons.find((r: { code: string }) => r.code === 'too_weak' || r.code === 'too_common');
    assert.ok(reason, JSON.stringify(weak.json));
    assert.doesNotMatch(reason.message, /easy to guess|common password/i);
    assert.match(reason.message, /Passw/);
    // The same check in English keeps today's wording.
    const en = await fx.server.client().post('/api/v1/password-checks', { password: 'kurz' });
    assert.match(en.json.reasons[0].message, /^Use at least \d+ characters\.$/);
  });

  test('a field problem in French: the passwords differ', async () => {
    const c = fx.server.client({ headers: { 'accept-language': 'fr' } });
    const username = uniqueName('diff');
    const page = await c.form('/register', {
      username,
      email: `${username}@example.test`,
      password: strongPassword(),
      passwordConfirm: strongPassword(),
    });
    assert.equal(page.status, 400);
    assert.match(page.text, /Les deux mots de passe ne correspondent pas\./);
  });

  test('a taken username is said in German, on the page and in the API', async () => {
    const a = await activeAccount(fx.server);
    const c = fx.server.client({ headers: { 'accept-language': 'de' } });
    const password = strongPassword();
    const page = await c.form('/register', {
      username: a.username,
      email: `${uniqueName('other')}@example.test`,
      password,
      passwordConfirm: password,
    });
    assert.equal(page.status, 409);
    assert.match(page.text, /Dieser Benutzername ist vergeben\./);
    const api = await c.post('/api/v1/registrations', {
      username: a.username,
      email: `${uniqueName('other')}@example.test`,
      password,
    });
    assert.equal(api.status, 409);
    assert.match(api.json.detail, /^Dieser Benutzername ist vergeben\./);
  });

  test('the activation mail speaks the registrant’s language; a resend the asker’s', async () => {
    const c = fx.server.client({ headers: { 'accept-language': 'de-AT,de;q=0.9' } });
    const username = uniqueName('aktiv');
    const email = `${username}@example.test`;
    const password = strongPassword();
    const done = await c.form('/register', { username, email, password, passwordConfirm: password });
    assert.equal(done.status, 200);
    assert.match(done.text, /Prüfen Sie Ihre E-Mails/);
    const mail = await waitForDevMail(
      fx.server,
      (m) => m.to.includes(email) && /Aktivieren Sie Ihr Konto/.test(m.subject),
    );
    assert.match(mail.text, new RegExp(`Willkommen bei .+, ${username}`));
    assert.match(mail.text, /Oder geben Sie diesen Code auf der Aktivierungsseite ein/);

    const fr = fx.server.client({ headers: { 'accept-language': 'fr' } });
    const resend = await fr.form('/activate/resend', { identifier: username });
    assert.equal(resend.status, 200);
    assert.match(resend.text, /nous lui avons envoyé un nouveau lien/);
    await waitForDevMail(fx.server, (m) => m.to.includes(email) && /Activez votre compte/.test(m.subject));
  });

  test('the password-changed mail follows the account’s saved language, not the request’s', async () => {
    const a = await activeAccount(fx.server);
    const c = await signedIn(fx.server, a.username, a.password);
    const lang = await c.put('/api/v1/account/language', { language: 'es' });
    assert.ok(lang.status < 300, lang.text);
    const newPassword = strongPassword();
    const res = await c.put(
      '/api/v1/account/password',
      { currentPassword: a.password, newPassword },
      { 'accept-language': 'en' },
    );
    assert.equal(res.status, 200, res.text);
    const mail = await waitForDevMail(
      fx.server,
      (m) => m.to.includes(a.email) && /Su contraseña se ha cambiado/.test(m.subject),
    );
    assert.match(mail.text, new RegExp(`La contraseña de su cuenta ${a.username} se cambió el`));
  });

  test('the settings page in Arabic', async () => {
    const a = await activeAccount(fx.server);
    const c = await signedIn(fx.server, a.username, a.password);
    const page = await c.get('/settings', html('ar'));
    assert.equal(page.status, 200);
    assert.match(page.text, /dir="rtl"/);
    assert.match(page.text, /تغيير كلمة المرور/);
    assert.match(page.text, /عبر كلمة المرور/);
  });
});
