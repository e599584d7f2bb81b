import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { systemContext } from '../../src/context.ts';
import { loadCatalogs } from '../../src/i18n/catalog.ts';
import { LANGUAGE_NAMES } from '../../src/i18n/locales.ts';
import { activeAccount, secretsIn } from '../recovery/helpers.ts';
import { seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

// Issue 17 in Chromium: sign-in and reset walked in German and Arabic, every page in Arabic
// (right to left) through axe in light and dark, desktop and phone, and no English left on them.

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const catalogs = loadCatalogs();
const say = (locale: string, key: string) => {
  const m = catalogs.get(locale)?.get(key);
  assert.ok(m, `${locale} ${key}`);
  return m;
};

/** The text nodes of an HTML page (scripts and styles left out), trimmed, entities decoded. */
function textsOf(html: string): string[] {
  return html
    .replace(/<(script|style|title)[^>]*>[\s\S]*?<\/\1>/g, '')
    .split(/<[^>]*>/)
    .map((s) =>
      s
        .replace(/&#39;/g, "'")
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter((s) => /[A-Za-z]{2,}\W+[A-Za-z]{2,}/.test(s));
}

/** Every English catalog message with no arguments: a sentence that must not show on a translated page. */
const ENGLISH = new Set(
  [...(catalogs.get('en') ?? [])].map(([, m]) => m).filter((m) => !/[{<]/.test(m) && /\w+\W+\w+/.test(m)),
);

/**
 * English left on the page in the browser: a text that is an English catalog message, or (for a
 * page fetched by GET) a text the same page shows in English — which also finds words that never
 * went into a catalog.
 */
async function untranslated(page: Page, o: { compareGet?: boolean; allowed?: RegExp[] } = {}): Promise<string[]> {
  const english = new Set(ENGLISH);
  if (o.compareGet ?? true) {
    const res = await page.context().request.get(page.url(), { headers: { 'accept-language': 'en' } });
    // The picked-language cookie would win over Accept-Language: this walk never sets one.
    for (const s of textsOf(await res.text())) english.add(s);
  }
  return textsOf(await page.content()).filter((s) => english.has(s) && !(o.allowed ?? []).some((a) => a.test(s)));
}

/** What may stay the same in every language: names, addresses, the language list. */
const NAMES = [
  /Latchkey/,
  /Acme/,
  /@example\.test/,
  /Google|GitHub|Microsoft/,
  ...Object.values(LANGUAGE_NAMES).map((n) => new RegExp(`^${n.replace(/[()]/g, '\\$&')}$`)),
];

describe('languages in Chromium', () => {
  const fx = withServer({ smtp: true, browser: true });
  let admin: { username: string; password: string };

  before(async () => {
    if (!fx.running) return;
    await fx.server.deps.organizations.create(
      { slug: 'acme', name: 'Acme', displayName: 'Acme Sign-in' },
      systemContext(),
    );
    const u = await activeAccount(fx.server, fx.smtp, 'chieflang');
    await fx.server.deps.organizations.addAdmin('default', u.username, 'owner', systemContext('test'));
    admin = u;
  });

  async function context(
    b: Browser,
    locale: string,
    o: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {},
  ): Promise<BrowserContext> {
    const ctx = await b.newContext({
      locale,
      viewport: o.viewport ?? DESKTOP,
      colorScheme: o.colorScheme ?? 'light',
    });
    ctx.setDefaultTimeout(15_000);
    return ctx;
  }

  async function signIn(page: Page, identifier: string, password: string) {
    await page.goto(`${fx.server.base}/login`);
    await page.locator('main input[name="identifier"]').fill(identifier);
    await page.locator('main input[name="password"]').fill(password);
    await page.locator('main form[action$="/login"] button[type="submit"]').first().click();
    await page.waitForURL(/\/settings/);
  }

  for (const locale of ['de', 'ar'] as const)
    test(`i18n sign-in walk in ${locale}: every word on the way in ${locale}, ${locale === 'ar' ? 'right to left' : 'left to right'}`, async (t) => {
      if (!fx.ready(t)) return;
      const u = await activeAccount(fx.server, fx.smtp, `walk${locale}`);
      const ctx = await context(fx.browser, locale === 'de' ? 'de-DE' : 'ar-EG');
      const page = await ctx.newPage();
      await page.goto(`${fx.server.base}/login`);
      assert.equal(await page.getAttribute('html', 'lang'), locale);
      assert.equal(await page.getAttribute('html', 'dir'), locale === 'ar' ? 'rtl' : 'ltr');
      assert.deepEqual(await untranslated(page, { allowed: NAMES }), [], '/login');
      // a wrong password first: the error in the language
      await page.locator('main input[name="identifier"]').fill(u.username);
      await page.locator('main input[name="password"]').fill('not the password at all');
      await page.locator('main form[action$="/login"] button[type="submit"]').first().click();
      await page.getByText(say(locale, 'web.error.invalid_credentials')).waitFor();
      assert.deepEqual(await untranslated(page, { compareGet: false }), [], 'the error');
      await signIn(page, u.username, u.password);
      assert.equal(await page.getAttribute('html', 'lang'), locale);
      assert.deepEqual(await untranslated(page, { allowed: [...NAMES, new RegExp(u.username)] }), [], '/settings');
      // the sign-out button of the header, in the language
      await page
        .locator('header')
        .getByRole('button', { name: say(locale, 'web.sign_out') })
        .click();
      await page.waitForURL(/\/login/);
      await ctx.close();
    });

  for (const locale of ['de', 'ar'] as const)
    test(`i18n reset walk in ${locale}: forgot password → mail in ${locale} → link → new password → sign in`, async (t) => {
      if (!fx.ready(t)) return;
      const a = await activeAccount(fx.server, fx.smtp, `reset${locale}`);
      const ctx = await context(fx.browser, locale);
      const page = await ctx.newPage();
      await page.goto(`${fx.server.base}/login`);
      await page.locator('main a[href$="/forgot-password"]').first().click();
      await page.waitForURL(/\/forgot-password$/);
      assert.deepEqual(await untranslated(page, { allowed: NAMES }), [], '/forgot-password');
      await page.locator('main input[name="identifier"]').fill(a.email);
      await page.locator('main form button[type="submit"]').first().click();
      await page.waitForURL(/forgot-password|check|sent/);
      assert.deepEqual(await untranslated(page, { compareGet: false }), [], 'reset requested');
      const mail = await fx.smtp.waitFor((m) => m.to.includes(a.email) && m.text.includes('/auth/reset/code?token='));
      assert.equal(/[A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,}/.test(mail.subject), false, mail.subject);
      const lang = /<html lang="([^"]+)"/.exec(mail.html ?? '')?.[1];
      assert.equal(lang, locale, 'the mail is in the language the request was made in');
      const { link } = secretsIn(mail);
      await page.goto(link);
      assert.equal(await page.getAttribute('html', 'lang'), locale);
      assert.deepEqual(await untranslated(page, { allowed: NAMES }), [], 'new password page');
      const password = strongPassword();
      await page.locator('main input[name="password"]').fill(password);
      await page.locator('main input[name="passwordConfirm"]').fill(password);
      await page.locator('main form button[type="submit"]').first().click();
      await page.waitForLoadState('load');
      assert.deepEqual(await untranslated(page, { compareGet: false }), [], 'password changed page');
      await signIn(page, a.username, password);
      await ctx.close();
    });

  test('i18n axe in Arabic: every page, desktop and phone, no serious or critical violation, no sideways scroll, no English left', async (t) => {
    if (!fx.ready(t)) return;
    const publicPages = [
      '/login',
      '/register',
      '/activate',
      '/activate/resend',
      '/forgot-password',
      '/change-password',
      '/auth/reset/code?token=dead',
      '/login/qr',
      '/support',
      '/o/acme/login',
      '/o/acme/register',
      '/o/acme/forgot-password',
      '/o/no-such-org/login',
    ];
    const signedInPages = ['/settings', '/admin/organization'];
    const problems: string[] = [];
    // Every rule in light. Dark mode changes colours only, and no colour depends on the
    // language, so its colour rules are the English sweep's (test/browser/pages17.test.ts, same
    // pages, both widths); here they would repeat its answers at half this test's cost.
    for (const viewport of [DESKTOP, PHONE]) {
      const ctx = await context(fx.browser, 'ar', { colorScheme: 'light', viewport });
      const page = await ctx.newPage();
      const check = async (path: string) => {
        await page.goto(`${fx.server.base}${path}`);
        const where = `${viewport.width}px ${path}`;
        if ((await page.getAttribute('html', 'dir')) !== 'rtl') problems.push(`${where}: not rtl`);
        const v = await seriousA11yViolations(page);
        if (v.length) problems.push(`${where}: ${JSON.stringify(v)}`);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
        if (wide) problems.push(`${where}: scrolls sideways`);
        // English is looked for once per page (it does not depend on the scheme or width).
        if (viewport === DESKTOP)
          for (const line of await untranslated(page, { allowed: [...NAMES, new RegExp(admin.username)] }))
            problems.push(`${path}: English left: "${line}"`);
      };
      for (const path of publicPages) await check(path);
      await signIn(page, admin.username, admin.password);
      for (const path of signedInPages) await check(path);
      await ctx.close();
    }
    assert.deepEqual(problems, []);
  });
});
