import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { defaultRecoverySettings } from '../../src/flows/organizations/settings.ts';
import { countMail, nextCode, signedInUser, smsTo, verifiedPhone } from '../phone/helpers.ts';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { Client } from '../support/http.ts';
import { devMailbox, waitForDevMail } from '../support/server.ts';

// Issue 17, languages: the forgot-password pages, the reset mail and the codes by email and SMS
// speak the reader's language (German, Arabic right to left, …), the recipient's saved one first.

const decode = (s: string) =>
  s
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

describe('recovery in other languages', () => {
  const fx = withServer();
  const inLanguage = (lang: string) =>
    new Client(fx.server.base, fx.server.base, { 'accept-language': lang, accept: 'text/html' });

  before(async () => {
    const settings = defaultRecoverySettings(fx.server.deps.recoveryMethods, fx.server.deps.config);
    await fx.server.deps.db
      .updateTable('organizations')
      .set({ recovery_settings: JSON.stringify({ ...settings, methods: ['email_link', 'email_otp', 'sms_otp'] }) })
      .where('slug', '=', 'default')
      .execute();
  });

  test('the forgot-password page in German, and in Arabic right to left', async () => {
    const de = await inLanguage('de').get('/forgot-password');
    assert.equal(de.status, 200);
    assert.match(de.text, /<html lang="de" dir="ltr">/);
    assert.match(de.text, /<title>Passwort vergessen · Latchkey<\/title>/);
    assert.match(de.text, /Benutzername oder E-Mail-Adresse/);
    assert.match(de.text, /Wie sollen wir ihn senden\?/);
    // the methods' labels in the chooser
    assert.match(de.text, /Link per E-Mail senden/);
    assert.match(de.text, /Code per SMS senden/);
    assert.match(de.text, /Zurück zur Anmeldung/);
    assert.doesNotMatch(de.text, /Back to sign in|Email me a link/);

    const ar = await inLanguage('ar').get('/forgot-password');
    assert.equal(ar.status, 200);
    assert.match(ar.text, /<html lang="ar" dir="rtl">/);
    assert.match(ar.text, /نسيت كلمة المرور/);
    assert.match(ar.text, /أرسل لي رابطًا عبر البريد الإلكتروني/);
    assert.doesNotMatch(ar.text, /Forgot password/);

    const code = await inLanguage('fr').get('/change-password');
    assert.match(code.text, /Changer le mot de passe avec un code/);
  });

  test('the reset mail goes out in the language the account saved, whatever the request spoke', async () => {
    const a = await activeAccount(fx.server);
    const c = await signedIn(fx.server, a.username, a.password);
    const saved = await c.put('/api/v1/account/language', { language: 'de' });
    assert.equal(saved.status, 200, saved.text);
    // asked for from an English browser
    const res = await inLanguage('en').post(
      '/api/v1/password-resets',
      { identifier: a.username },
      { accept: 'application/json' },
    );
    assert.equal(res.status, 202, res.text);
    assert.match(res.json.message, /If an account matches/);
    const mail = await waitForDevMail(
      fx.server,
      (m) => m.to === a.email && m.channel === 'email' && /zurücksetzen/.test(m.subject),
    );
    assert.equal(mail.subject, 'Passwort zurücksetzen – Latchkey');
    assert.match(mail.text, new RegExp(`Passwort von ${a.username} zurücksetzen`));
    assert.match(mail.text, /Neues Passwort wählen: http/);
    assert.match(mail.text, /Oder geben Sie diesen Code unter http[^ ]+\/change-password ein: [0-9A-Z]{4}-[0-9A-Z]{4}/);
    assert.match(mail.text, /Der Link und der Code laufen in \d+ (Minuten|Stunden|Minute|Stunde) ab/);
    const html = (await devMailbox(fx.server)).find((m) => m.to === a.email && m.subject === mail.subject)?.html ?? '';
    assert.match(html, /<html lang="de" dir="ltr">/);
  });

  test('without a saved language, the mail speaks the language of the request that asked for it', async () => {
    const a = await activeAccount(fx.server);
    const res = await inLanguage('fr-CA,fr;q=0.9').form('/forgot-password', {
      identifier: a.email,
      method: 'email_link',
    });
    assert.equal(res.status, 200);
    assert.match(decode(res.text), /Si un compte correspond, nous avons envoyé un e-mail/);
    const mail = await waitForDevMail(fx.server, (m) => m.to === a.email && /Réinitialisez/.test(m.subject));
    assert.match(mail.text, /Quelqu’un \(vous, espérons-le\) a demandé/);
  });

  test('a wrong reset code is told in German, with the tries left', async () => {
    const res = await inLanguage('de').form('/change-password', {
      identifier: 'nobody-at-all',
      code: 'AAAA-BBBB',
      password: 'violet-harbor-quantum-meadow-x1',
      passwordConfirm: 'violet-harbor-quantum-meadow-x1',
      tries: '0',
    });
    assert.equal(res.status, 400);
    assert.match(res.text, /<html lang="de"/);
    assert.match(
      decode(res.text),
      /Dieser Code hat nicht funktioniert\. Prüfen Sie ihn und versuchen Sie es erneut: noch 4 Versuche, bevor der Code verbraucht ist\./,
    );
    const last = await inLanguage('ar').form('/change-password', {
      identifier: 'nobody-at-all',
      code: 'AAAA-BBBB',
      password: 'violet-harbor-quantum-meadow-x1',
      passwordConfirm: 'violet-harbor-quantum-meadow-x1',
      tries: '4',
    });
    assert.match(last.text, /dir="rtl"/);
    assert.match(decode(last.text), /استُنفد هذا الرمز بعد 5 محاولات خاطئة/);
  });

  test("SMS codes go out in the recipient's language: the number's confirmation and the reset code", async () => {
    const u = await signedInUser(fx.server, 'smslang');
    assert.equal((await u.c.put('/api/v1/account/language', { language: 'es' })).status, 200);
    const phone = '+447911123457';
    await verifiedPhone(fx.server, u, phone);
    const confirmation = (await devMailbox(fx.server)).find((m) => m.channel === 'sms' && m.to === phone);
    assert.match(confirmation?.text ?? '', /^\d{6} es su código de Latchkey para confirmar este número de móvil\./);

    const seen = await countMail(fx.server, smsTo(phone));
    // asked for in Arabic; the account chose Spanish
    const res = await inLanguage('ar').post(
      '/api/v1/password-resets',
      { identifier: u.username, method: 'sms_otp' },
      { accept: 'application/json' },
    );
    assert.equal(res.status, 202, res.text);
    assert.match(res.json.message, /رسالة نصية/);
    await nextCode(fx.server, smsTo(phone), seen);
    const texts = (await devMailbox(fx.server)).filter((m) => m.channel === 'sms' && m.to === phone);
    assert.ok(
      texts.some((m) =>
        /^\d{6} es su código de Latchkey para restablecer la contraseña\. Caduca en 10 min\./.test(m.text),
      ),
      texts.map((m) => m.text).join('\n'),
    );
  });
});
