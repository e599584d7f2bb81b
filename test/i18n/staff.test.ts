import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Captcha } from '../../src/security/captcha.ts';
import { statusLinkIn } from '../review/helpers.ts';
import { cast, type Person } from '../staff/helpers.ts';
import { withServer } from '../support/fixture.ts';
import { type TestServer, waitForDevMail } from '../support/server.ts';
import type { ReceivedMail } from '../support/smtp.ts';

// Issue 17 for the staff console, the review queue and "Contact support": the pages speak the
// reader's language (a staff member's saved one first), and mails go out in the recipient's
// language, never the staff member's.

// A CAPTCHA that lets everything through (the real ones are tested in test/abuse).
const fakeCaptcha: Captcha = { widget: { provider: 'off' }, verify: async () => true };
const mailTo = (server: TestServer, to: string, subject: RegExp) =>
  waitForDevMail(server, (m) => m.to.includes(to) && subject.test(m.subject));
const decode = (s: string) =>
  s
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

async function saveLocale(server: TestServer, p: Person, locale: string): Promise<void> {
  await server.deps.db.updateTable('accounts').set({ locale }).where('id', '=', p.id).execute();
}

describe('issue 17: staff console, review queue and support in other languages', () => {
  const fx = withServer({ overrides: { captcha: () => fakeCaptcha } });
  let c: Awaited<ReturnType<typeof cast>>;
  before(async () => {
    c = await cast(fx.server);
  });

  test('/support in German: German words and lang="de"; an error of the form in German', async () => {
    const client = fx.server.client();
    const page = await client.get('/support', { accept: 'text/html', 'accept-language': 'de' });
    assert.equal(page.status, 200);
    const text = decode(page.text);
    assert.match(text, /<html lang="de" dir="ltr"/);
    assert.match(text, /<title>Support kontaktieren/);
    assert.match(text, /Benutzername oder E-Mail-Adresse des Kontos/);
    assert.match(text, />\s*Anfrage senden\s*</);
    assert.doesNotMatch(text, /Send request|What happened\?/);
    const bad = await client.post('/support', 'identifier=x&contact=not-an-address&message=&captcha=ok', {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      'accept-language': 'de',
    });
    assert.equal(bad.status, 400);
    assert.match(decode(bad.text), /Geben Sie eine E-Mail-Adresse ein, unter der wir Sie erreichen\./);
  });

  test('/support in Arabic: Arabic words, lang="ar" and dir="rtl"', async () => {
    const page = await fx.server.client().get('/support', { accept: 'text/html', 'accept-language': 'ar' });
    assert.equal(page.status, 200);
    assert.match(page.text, /<html lang="ar" dir="rtl"/);
    assert.match(page.text, /التواصل مع الدعم/);
    assert.match(page.text, /إرسال الطلب/);
  });

  test('a staff page follows the staff member’s saved language (de) over the browser’s (en)', async () => {
    await saveLocale(fx.server, c.support, 'de');
    try {
      const page = await c.support.client.get(`/admin/accounts/${c.target.id}`, {
        accept: 'text/html',
        'accept-language': 'en',
      });
      assert.equal(page.status, 200, page.text);
      const text = decode(page.text);
      assert.match(text, /<html lang="de"/);
      assert.match(text, /<title>Konto /);
      assert.match(text, /Aktion für dieses Konto/);
      assert.match(text, /Offene Zurücksetzungen/);
      assert.match(text, /aria-label="Konsole für Mitarbeitende"/);
      assert.match(text, /Angemeldet als [^<]+ \(Support\)/);
      assert.doesNotMatch(text, /Act on this account|Pending resets/);
      const queue = await c.support.client.get('/admin', { accept: 'text/html' });
      assert.match(decode(queue.text), /Prüf-Warteschlange/);
      assert.match(decode(queue.text), /Offene Einträge/);
    } finally {
      await saveLocale(fx.server, c.support, 'en');
    }
  });

  test('a staff action’s mail arrives in the user’s saved language (fr) while the staff member reads German', async () => {
    await saveLocale(fx.server, c.support, 'de');
    await saveLocale(fx.server, c.target, 'fr');
    try {
      const res = await c.support.client.post(
        `/api/v1/admin/accounts/${c.target.id}/actions/unlock`,
        { reason: 'the user called about a lockout' },
        { 'accept-language': 'en' },
      );
      assert.equal(res.status, 200, res.text);
      assert.equal(
        res.json.message,
        'Fehlgeschlagene Anmeldungen wurden zurückgesetzt: Das Konto kann sich wieder anmelden.',
      );
      const mail = await mailTo(fx.server, c.target.email, /Un membre de l’équipe/);
      assert.match(mail.text, /un membre de l’équipe d’assistance a levé le blocage de connexion de votre compte\./);
      assert.match(mail.text, /Activité de sécurité récente/);
      assert.doesNotMatch(mail.text, /A staff member|Jemand aus dem Team/);
    } finally {
      await saveLocale(fx.server, c.support, 'en');
      await saveLocale(fx.server, c.target, 'en');
    }
  });

  test('a support request’s mails go out in the filer’s language, the reply too, whatever the staff member reads', async () => {
    const to = `filer-i18n-${process.pid}@contact.test`;
    const client = fx.server.client();
    const filed = await client.post(
      '/api/v1/support-requests',
      { identifier: c.target.username, contact: to, message: 'Perdi meu telefone.', captcha: 'ok' },
      { 'accept-language': 'pt-BR' },
    );
    assert.equal(filed.status, 202, filed.text);
    const mail = await mailTo(fx.server, to, /solicitação de suporte/);
    assert.match(mail.text, /Recebemos a sua solicitação de suporte/);
    const link = statusLinkIn(mail as unknown as ReceivedMail);
    const status = await client.get(link.path, { accept: 'text/html', 'accept-language': 'pt-BR' });
    assert.match(decode(status.text), /Aberta: aguardando nossa equipe/);
    const item = await fx.server.deps.db
      .selectFrom('review_items')
      .select('id')
      .where('kind', '=', 'support_request')
      .where('subject', '=', link.id)
      .executeTakeFirstOrThrow();
    await saveLocale(fx.server, c.admin, 'de');
    try {
      const reply = await c.admin.client.post(`/api/v1/admin/queue/${item.id}/reply`, { body: 'Olá! Vamos ajudar.' });
      assert.equal(reply.status, 202, reply.text);
      assert.equal(reply.json.message, 'Antwort gesendet.');
      const answer = await mailTo(fx.server, to, /Resposta à sua solicitação/);
      assert.match(answer.text, /Nossa equipe de suporte respondeu/);
    } finally {
      await saveLocale(fx.server, c.admin, 'en');
    }
  });
});
