import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ShiftClock, totpCode } from '../mfa/helpers.ts';
import { activeAccount } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { waitForDevMail } from '../support/server.ts';

// Issue 17 for second factors and QR sign-in: the two-step section and the authenticator-app
// setup in German, the QR page in Arabic (right to left, with its script's words), and a
// factor-added mail in the language the account saved, whatever the browser asks for.

const html = { accept: 'text/html' };
const clock = new ShiftClock();

describe('second factors and QR sign-in in other languages', () => {
  const fx = withServer({ overrides: { clock } });

  async function signedInWith(language: string) {
    const a = await activeAccount(fx.server);
    const c = fx.server.client({ headers: { 'accept-language': language } });
    const r = await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    assert.equal(r.status, 201, r.text);
    return { ...a, c };
  }

  test('the two-step section and the authenticator-app setup speak German', async () => {
    const u = await signedInWith('de');
    const settings = await u.c.get('/settings', html);
    assert.equal(settings.status, 200);
    assert.match(settings.text, /<html lang="de"/);
    assert.match(settings.text, /<h2 id="two-step-h">Zwei-Schritt-Verifizierung<\/h2>/);
    assert.match(settings.text, /Die Zwei-Schritt-Verifizierung ist ausgeschaltet\./);
    assert.match(settings.text, /Authenticator-App einrichten/);
    assert.doesNotMatch(settings.text, /Two-step verification is off/);

    const setup = await u.c.form('/settings/two-step/totp', {});
    assert.equal(setup.status, 200, setup.text);
    assert.match(setup.text, /<title>Authenticator-App einrichten/);
    assert.match(setup.text, /1\. QR-Code scannen/);
    assert.match(setup.text, /aria-label="QR-Code zum Scannen mit Ihrer Authenticator-App"/);
    assert.match(setup.text, /Scannen klappt nicht\? Geben Sie diesen Schlüssel in der App ein:/);
    assert.match(setup.text, /6-stelliger Code/);
    assert.match(setup.text, />\s*Einschalten\s*</);
    const secret = /data-totp-secret[^>]*>([A-Z2-7]+)</.exec(setup.text)?.[1];
    assert.ok(secret, 'the key is shown');

    const done = await u.c.form('/settings/two-step/totp/confirm', { code: totpCode(secret, clock.now()) });
    clock.nextStep();
    assert.equal(done.status, 200, done.text);
    assert.match(done.text, /<title>Wiederherstellungscodes speichern/);
    assert.match(done.text, /Die Zwei-Schritt-Verifizierung mit Ihrer Authenticator-App ist eingeschaltet\./);
    assert.match(done.text, /<strong>Sie werden nur dieses eine Mal angezeigt\.<\/strong>/);
    assert.match(done.text, /Als \.txt herunterladen/);
    // The download's own text is German too.
    const file = /href="data:text\/plain;charset=utf-8,([^"]+)"/.exec(done.text)?.[1];
    assert.ok(file);
    assert.match(decodeURIComponent(file.replace(/&amp;/g, '&')), /^Wiederherstellungscodes für Latchkey\n/);

    const after = await u.c.get('/settings', html);
    assert.match(after.text, /Sie haben 10 unbenutzte Wiederherstellungscodes\./);
    assert.match(after.text, /hinzugefügt \d{4}-\d{2}-\d{2} · zuletzt verwendet/);
  });

  test('a factor error on the page is German', async () => {
    const u = await signedInWith('de');
    await u.c.form('/settings/two-step/totp', {});
    const wrong = await u.c.form('/settings/two-step/totp/confirm', { code: '000000' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /<html lang="de"/);
    assert.match(wrong.text, /1\. QR-Code scannen/);
    const regen = await u.c.form('/settings/two-step/recovery-codes', {});
    assert.equal(regen.status, 409);
    assert.match(regen.text, /Schalten Sie zuerst die Zwei-Schritt-Verifizierung ein\./);
  });

  test('the QR page speaks Arabic, right to left, with its script’s words', async () => {
    const c = fx.server.client({ headers: { 'accept-language': 'ar' } });
    const start = await c.get('/login/qr', html);
    assert.equal(start.status, 200);
    assert.match(start.text, /<html lang="ar" dir="rtl"/);
    assert.match(start.text, /<title>تسجيل الدخول بهاتفك/);
    assert.match(start.text, /عرض رمز QR/);
    assert.doesNotMatch(start.text, /Show a QR code/);

    const wait = await c.form('/login/qr', { action: 'start' });
    assert.equal(wait.status, 200, wait.text);
    assert.match(wait.text, /<html lang="ar" dir="rtl"/);
    assert.match(wait.text, /وافق على هذا المتصفح من هاتفك/);
    assert.match(wait.text, /aria-label="رمز QR للمسح بهاتفك"/);
    assert.match(wait.text, /بانتظار هاتفك…/);
    const words = /<script[^>]*id="latchkey-text"[^>]*>([^<]*)<\/script>/.exec(wait.text)?.[1];
    assert.ok(words, 'the page carries its scripts’ words');
    const text = JSON.parse(words) as Record<string, string>;
    assert.equal(text['qr.client.approved'], 'تمت الموافقة. جارٍ تسجيل دخولك…');
    assert.equal(text['passkey.client.checking'], 'جارٍ التحقق من مفتاح المرور…');
  });

  test('a factor-added mail goes out in the language the account saved, not the browser’s', async () => {
    const u = await signedInWith('fr');
    assert.equal((await u.c.put('/api/v1/account/language', { language: 'de' })).status, 200);
    const start = await u.c.post('/api/v1/account/factors/totp');
    assert.equal(start.status, 201, start.text);
    const conf = await u.c.post('/api/v1/account/factors/totp/confirm', {
      code: totpCode(start.json.secret, clock.now()),
    });
    clock.nextStep();
    assert.equal(conf.status, 201, conf.text);
    const mail = await waitForDevMail(
      fx.server,
      (m) => m.to.includes(u.email) && m.subject.startsWith('Ein zweiter Faktor wurde hinzugefügt'),
    );
    assert.match(mail.text, new RegExp(`wurde am .+ zu Ihrem Konto ${u.username} hinzugefügt\\.`));
    assert.match(mail.text, /IP-Adresse: /);
    assert.match(mail.text, /Falls Sie das nicht waren, setzen Sie Ihr Passwort unter http/);
    assert.doesNotMatch(mail.text, /second factor|deuxième|second facteur/);

    // Without a saved language, the request's own language decides.
    const v = await signedInWith('fr');
    const s2 = await v.c.post('/api/v1/account/factors/totp');
    await v.c.post('/api/v1/account/factors/totp/confirm', { code: totpCode(s2.json.secret, clock.now()) });
    clock.nextStep();
    await waitForDevMail(
      fx.server,
      (m) => m.to.includes(v.email) && m.subject.startsWith('Un second facteur a été ajouté'),
    );
  });
});
