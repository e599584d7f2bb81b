import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { systemContext } from '../../src/context.ts';
import { PHONE_EXAMPLE } from '../../src/flows/phone/numbers.ts';
import { signedInUser } from '../phone/helpers.ts';
import { COLOUR_RULES, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { devMailbox, strongPassword, waitForDevMail } from '../support/server.ts';

// Issue 17 in Chromium: page defects that only a browser shows (layout, focus, scrolling, a mail
// at phone width) and axe on every page in light and dark, desktop and phone.

const DESKTOP = { width: 1280, height: 800 };

/** WCAG contrast ratio of two CSS rgb() colours. */
function contrast(x: string, y: string): number {
  const lum = (c: string) => {
    const [r, g, b] = (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
    const f = (v: number) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const [a, b] = [lum(x), lum(y)].sort((p, q) => q - p);
  return (a + 0.05) / (b + 0.05);
}
const PHONE = { width: 390, height: 844 };

describe('issue 17 pages in Chromium', () => {
  const fx = withServer({ browser: true });
  let admin: { username: string; password: string };

  before(async () => {
    if (!fx.running) return;
    await fx.server.deps.organizations.create(
      { slug: 'acme', name: 'Acme', displayName: 'Acme Sign-in' },
      systemContext(),
    );
    const u = await signedInUser(fx.server, 'chief17');
    await fx.server.deps.organizations.addAdmin('default', u.username, 'owner', systemContext('test'));
    admin = u;
  });

  async function context(
    b: Browser,
    o: {
      viewport?: { width: number; height: number };
      colorScheme?: 'light' | 'dark';
      javaScriptEnabled?: boolean;
    } = {},
  ): Promise<BrowserContext> {
    const ctx = await b.newContext({
      viewport: o.viewport ?? DESKTOP,
      colorScheme: o.colorScheme ?? 'light',
      javaScriptEnabled: o.javaScriptEnabled ?? true,
    });
    ctx.setDefaultTimeout(15_000);
    return ctx;
  }

  async function signIn(page: Page, identifier: string, password: string) {
    await page.goto(`${fx.server.base}/login`);
    await page.getByLabel('Username or email address').fill(identifier);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/settings/);
  }

  /** Whether the element's box is inside the viewport as it is scrolled now. */
  async function onScreen(page: Page, selector: string): Promise<boolean> {
    return page
      .locator(selector)
      .first()
      .evaluate((el) => {
        const r = el.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight;
      });
  }

  test('axe: the check finds what it should (an image without text, grey on grey), in light and in dark', async (t) => {
    if (!fx.ready(t)) return;
    const ctx = await context(fx.browser, { colorScheme: 'light', viewport: DESKTOP });
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/login`);
    await page.evaluate(() => {
      document
        .querySelector('main')
        ?.insertAdjacentHTML('beforeend', '<img src="/static/favicon.svg"><p>faint words</p>');
      // through the CSSOM: the page's CSP refuses style attributes
      const p = document.querySelector('main p:last-child') as HTMLElement;
      p.style.color = '#777';
      p.style.background = '#888';
    });
    const ids = (await seriousA11yViolations(page)).map((v) => v.id);
    assert.ok(ids.includes('image-alt') && ids.includes('color-contrast'), ids.join(', '));
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = (await seriousA11yViolations(page, { rules: COLOUR_RULES })).map((v) => v.id);
    assert.deepEqual(dark, ['color-contrast']);
    await ctx.close();
  });

  test('axe: every page, light and dark, desktop 1280×800 and phone 390×844, no serious or critical violation', async (t) => {
    if (!fx.ready(t)) return;
    const publicPages = [
      '/login',
      '/register',
      '/activate',
      '/activate?token=abc',
      '/activate/resend',
      '/forgot-password',
      '/change-password',
      '/auth/reset/code?token=dead',
      '/o/acme/login',
      '/o/acme/register',
      '/o/acme/forgot-password',
      '/o/acme/change-password',
      '/o/no-such-org/login',
      '/login/qr',
      '/support',
      '/dev/mailbox',
    ];
    const signedInPages = ['/settings', '/admin/organization'];
    const problems: string[] = [];
    // One page load serves both schemes: the page is checked in light, then switched to dark in
    // place (the DOM is the same; only the colour rules can answer differently there).
    for (const viewport of [DESKTOP, PHONE]) {
      const ctx = await context(fx.browser, { colorScheme: 'light', viewport });
      const page = await ctx.newPage();
      const check = async (path: string) => {
        await page.emulateMedia({ colorScheme: 'light' });
        await page.goto(`${fx.server.base}${path}`);
        for (const colorScheme of ['light', 'dark'] as const) {
          if (colorScheme === 'dark') await page.emulateMedia({ colorScheme });
          const v = await seriousA11yViolations(page, colorScheme === 'dark' ? { rules: COLOUR_RULES } : {});
          if (v.length) problems.push(`${colorScheme} ${viewport.width}px ${path}: ${JSON.stringify(v)}`);
        }
        // nothing wider than the screen on a phone
        const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
        if (wide) problems.push(`${viewport.width}px ${path}: scrolls sideways`);
      };
      for (const path of publicPages) await check(path);
      await signIn(page, admin.username, admin.password);
      for (const path of signedInPages) await check(path);
      await ctx.close();
    }
    assert.deepEqual(problems, []);
  });

  test('17-10 focus ring ≥ 3:1 against its background and a skip link, in light and dark', async (t) => {
    if (!fx.ready(t)) return;
    for (const colorScheme of ['light', 'dark'] as const) {
      const ctx = await context(fx.browser, { colorScheme });
      const page = await ctx.newPage();
      // a page without autofocus, so the first Tab starts at the top
      await page.goto(`${fx.server.base}/activate?token=abc`);
      await page.keyboard.press('Tab');
      const skip = page.getByRole('link', { name: 'Skip to content' });
      assert.ok(await skip.evaluate((el) => el === document.activeElement), 'the first Tab reaches the skip link');
      assert.ok(await onScreen(page, 'a.skip'), 'and it is visible when focused');
      await page.keyboard.press('Enter');
      assert.match(page.url(), /#main$/);
      await page.goto(`${fx.server.base}/login`);
      const colours = await page.getByLabel('Username or email address').evaluate((el) => {
        (el as HTMLElement).focus();
        const ring = getComputedStyle(el).outlineColor;
        // the ring sits outside the field, on the card behind it
        let bgEl: Element | null = el.parentElement;
        let bg = 'rgba(0, 0, 0, 0)';
        while (bgEl && /rgba\(0, 0, 0, 0\)|transparent/.test(bg)) {
          bg = getComputedStyle(bgEl).backgroundColor;
          bgEl = bgEl.parentElement;
        }
        return { ring, bg };
      });
      const ratio = contrast(colours.ring, colours.bg);
      assert.ok(ratio >= 3, `${colorScheme}: focus ring contrast ${ratio.toFixed(2)}:1`);
      await ctx.close();
    }
  });

  test('17-10 a mail opens at 390 px wide without sideways scrolling', async (t) => {
    if (!fx.ready(t)) return;
    const c = fx.server.client();
    await c.post('/api/v1/password-resets', { identifier: admin.username });
    await waitForDevMail(fx.server, (m) => /reset/i.test(m.subject));
    const mail = (await devMailbox(fx.server)).find((m) => m.html && /reset/i.test(m.subject));
    assert.ok(mail, 'a reset mail with HTML');
    assert.match(mail.html, /<head>[\s\S]*name="viewport"[\s\S]*<\/head>/);
    const ctx = await context(fx.browser, { viewport: PHONE });
    const page = await ctx.newPage();
    await page.setContent(mail.html);
    const { scroll, width } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
    }));
    assert.ok(scroll <= width, `the mail is ${scroll}px wide on a ${width}px screen`);
    await ctx.close();
  });

  test('17-5 /settings feedback: after "Add number" the page lands on the section, notice and code field on screen', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'phone17');
    const ctx = await context(fx.browser, { viewport: PHONE });
    const page = await ctx.newPage();
    await signIn(page, u.username, u.password);
    await page.locator('#f-phone').fill('12');
    await page.getByRole('button', { name: 'Add number' }).click();
    await page.waitForURL(/#phone$/);
    assert.ok(await onScreen(page, '#phone .notice.error'), 'the error is beside its form, on screen');
    await page.locator('#f-phone').fill(PHONE_EXAMPLE);
    await page.getByRole('button', { name: 'Add number' }).click();
    await page.waitForURL(/done=phone_code_sent#phone$/);
    assert.ok(await onScreen(page, '#phone .notice.success'), 'the notice is on screen');
    assert.ok(await onScreen(page, '#phone h2'), 'the section heading is on screen');
    await ctx.close();
  });

  test('17-6 17-7 admin form: checkboxes beside their labels, number inputs sized; a validation error keeps what was typed', async (t) => {
    if (!fx.ready(t)) return;
    const ctx = await context(fx.browser);
    const page = await ctx.newPage();
    await signIn(page, admin.username, admin.password);
    await page.goto(`${fx.server.base}/admin/organization`);
    const box = await page.locator('input[type="checkbox"]').first().boundingBox();
    const label = await page.locator('.field.check label').first().boundingBox();
    assert.ok(box && label);
    assert.ok(box.x + box.width <= label.x, 'the checkbox is left of its label');
    assert.ok(Math.abs(box.y + box.height / 2 - (label.y + label.height / 2)) < 6, 'on the same line');
    const num = page.locator('input[type="number"]').first();
    const nb = await num.boundingBox();
    assert.ok(nb && nb.width >= 80 && nb.height >= 36, `number input ${nb?.width}×${nb?.height}`);

    await page.getByLabel('Email me a code').check();
    await num.fill('999999');
    // The recovery form is one of several on the page, each with its own Save button.
    await page
      .locator('form[action^="/admin/organization?"]')
      .getByRole('button', { name: 'Save', exact: true })
      .click();
    await page.locator('.notice.error').waitFor();
    assert.equal(await page.locator('input[type="number"]').first().inputValue(), '999999', 'typed value kept');
    assert.ok(await page.getByLabel('Email me a code').isChecked(), 'typed choice kept');
    await ctx.close();
  });

  test('17-11 /settings links an admin to the organization settings', async (t) => {
    if (!fx.ready(t)) return;
    const ctx = await context(fx.browser);
    const page = await ctx.newPage();
    await signIn(page, admin.username, admin.password);
    await page.getByRole('link', { name: 'Organization settings' }).click();
    await page.waitForURL(/\/admin\/organization\?org=default$/);
    await ctx.close();
  });

  test('polish: show-password toggle, busy button on submit, times in the local zone (UTC without JavaScript)', async (t) => {
    if (!fx.ready(t)) return;
    const ctx = await context(fx.browser);
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/login`);
    const pw = page.getByLabel('Password', { exact: true });
    await pw.fill('secret-typed');
    await page.getByRole('button', { name: 'Show password' }).click();
    assert.equal(await pw.getAttribute('type'), 'text');
    await page.getByRole('button', { name: 'Hide password' }).click();
    assert.equal(await pw.getAttribute('type'), 'password');
    // busy state: seen by an observer that notes it where the next page can read it
    await page.evaluate(() => {
      new MutationObserver(() => {
        if (document.querySelector('button[aria-busy="true"]')) sessionStorage.setItem('sawBusy', '1');
      }).observe(document.body, { attributes: true, subtree: true });
    });
    await page.getByLabel('Username or email address').fill('nobody17');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Incorrect username, email or password.').waitFor();
    assert.equal(
      await page.evaluate(() => sessionStorage.getItem('sawBusy')),
      '1',
      'the pressed button showed it was busy',
    );

    await signIn(page, admin.username, admin.password);
    const shown = await page.locator('ul.sessions time').first().textContent();
    assert.doesNotMatch(shown ?? '', /UTC/, 'JavaScript shows the local zone');
    assert.doesNotMatch(
      (await page.locator('ul.sessions').textContent()) ?? '',
      /Mozilla\/5\.0/,
      'a device name, not the raw User-Agent',
    );
    await ctx.close();
    const noJs = await context(fx.browser, { javaScriptEnabled: false });
    const p2 = await noJs.newPage();
    await signIn(p2, admin.username, admin.password);
    assert.match((await p2.locator('ul.sessions time').first().textContent()) ?? '', /UTC$/);
    await noJs.close();
  });

  test('17-3 the organization sign-in page keeps its context after an error (no JavaScript)', async (t) => {
    if (!fx.ready(t)) return;
    const ctx = await context(fx.browser, { javaScriptEnabled: false, viewport: PHONE });
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/o/acme/login`);
    await page.getByLabel('Username or email address').fill('someone17');
    await page.getByLabel('Password', { exact: true }).fill(strongPassword());
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Incorrect username, email or password.').waitFor();
    assert.match(page.url(), /\/o\/acme\/login$/);
    assert.equal(await page.title(), 'Sign in · Acme Sign-in');
    assert.equal(await page.getByLabel('Username or email address').inputValue(), 'someone17');
    assert.ok(
      await page.getByLabel('Password', { exact: true }).evaluate((el) => el === document.activeElement),
      '17-1 focus on the password',
    );
    await ctx.close();
  });
});
