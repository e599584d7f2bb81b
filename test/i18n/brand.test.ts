import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import { signedInUser, type User } from '../phone/helpers.ts';
import { uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';

// Issue 17, languages: the brand admin page, its errors (page and API) and its script's words in
// the reader's language; Arabic right to left.

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
const page = (lang: string) => ({ accept: 'text/html', 'accept-language': lang });
const clientText = (html: string): Record<string, string> =>
  JSON.parse(/<script type="application\/json" id="latchkey-text">([^<]*)<\/script>/.exec(html)?.[1] ?? '{}');

describe('the brand area in other languages', () => {
  const fx = withServer();
  let admin: User;
  before(async () => {
    admin = await signedInUser(fx.server, uniqueName('brand18n'));
    await fx.server.deps.organizations.addAdmin('default', admin.username, 'admin', systemContext('test'));
  });

  test('the admin page in German, with the upload script’s words; in Arabic right to left', async () => {
    const de = await admin.c.get('/admin/organization/brand?org=default', page('de'));
    assert.equal(de.status, 200, de.text);
    assert.match(de.text, /<html lang="de" dir="ltr">/);
    assert.match(de.text, /<title>Erscheinungsbild der Organisation · /);
    assert.match(de.text, /Name, Farben und Support/);
    assert.match(de.text, /<label for="f-primaryColor">Primärfarbe<\/label>/);
    assert.match(de.text, /Erscheinungsbild speichern/);
    assert.match(de.text, /höchstens 256 KB/);
    assert.match(de.text, /PUT \/api\/v1\/organizations\/\{slug\}\/logo/);
    assert.doesNotMatch(de.text, /Save brand|Upload logo|No logo yet/);
    const words = clientText(de.text);
    assert.equal(words['brand.client.choose_image'], 'Wählen Sie zuerst ein Bild aus.');
    assert.equal(words['brand.client.upload_failed'], 'Das Hochladen ist fehlgeschlagen.');

    const ar = await admin.c.get('/admin/organization/brand?org=default', page('ar'));
    assert.match(ar.text, /<html lang="ar" dir="rtl">/);
    assert.match(ar.text, /الهوية البصرية للمؤسسة/);
    assert.match(ar.text, /رفع الشعار/);
    assert.equal(clientText(ar.text)['brand.client.choose_image'], 'اختر صورة أولًا.');

    const en = await admin.c.get('/admin/organization/brand?org=default', page('en'));
    assert.match(en.text, /<title>Organization brand · /);
    assert.equal(clientText(en.text)['brand.client.upload_failed'], 'The upload failed.');
  });

  test('API errors in the request’s language: a contrast below 4.5:1 in German (with German numbers), SVG refused in French', async () => {
    const de = await admin.c.put(
      '/api/v1/organizations/default/brand',
      { primaryColor: '#ffff00' },
      { 'accept-language': 'de' },
    );
    assert.equal(de.status, 400, de.text);
    assert.equal(
      de.json.errors[0].message,
      'Die Farbe #ffff00 hat einen Kontrast von 1,07:1 zum weißen Hintergrund des hellen Modus; die WCAG verlangen mindestens 4,5:1 (wählen Sie einen dunkleren Farbton).',
    );
    const dark = await admin.c.put(
      '/api/v1/organizations/default/brand',
      { primaryColorDark: '#000080' },
      { 'accept-language': 'es' },
    );
    assert.match(
      dark.json.errors[0].message,
      /^El color #000080 tiene un contraste de \d+,\d\d:1 .*elija un tono más claro/,
    );
    const en = await admin.c.put('/api/v1/organizations/default/brand', { primaryColor: '#ffff00' });
    assert.equal(
      en.json.errors[0].message,
      'The colour #ffff00 has a contrast of 1.07:1 against the light-mode white background; WCAG asks for at least 4.5:1 (pick a darker shade).',
    );

    const svg = await admin.c.put(
      '/api/v1/organizations/default/logo',
      { contentType: 'image/svg+xml', data: SVG.toString('base64') },
      { 'accept-language': 'fr' },
    );
    assert.equal(svg.status, 415);
    assert.equal(
      svg.json.detail,
      'Les logos SVG sont refusés (un SVG peut contenir des scripts). Envoyez une image PNG, JPEG ou WebP.',
    );
    const notBase64 = await admin.c.put(
      '/api/v1/organizations/default/logo',
      { contentType: 'image/png', data: 'not base64!' },
      { 'accept-language': 'pt-BR' },
    );
    assert.equal(notBase64.json.errors[0].message, 'A imagem deve estar em base64.');
  });

  test('the page keeps what was typed and says the problem in Spanish; a saved brand says so in Brazilian Portuguese', async () => {
    admin.c.cookies.set('latchkey_lang', 'es');
    try {
      const typed = await admin.c.form('/admin/organization/brand?org=default', {
        displayName: 'Nombre escrito',
        primaryColor: 'rojo',
        primaryColorDark: '',
      });
      assert.equal(typed.status, 400);
      assert.match(typed.text, /<html lang="es"/);
      assert.match(typed.text, /value="Nombre escrito"/);
      assert.match(typed.text, /Indique un color como #1f5fbf\./);
    } finally {
      admin.c.cookies.delete('latchkey_lang');
    }
    const saved = await admin.c.get('/admin/organization/brand?org=default&saved=brand', page('pt-BR'));
    assert.match(saved.text, /Identidade visual salva\./);
  });
});
