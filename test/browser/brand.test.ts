import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { systemContext } from '../../src/context.ts';
import { contrastRatio } from '../../src/web/contrast.ts';
import { seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';

// Issue 17, "Their brand" in Chromium: the brand colour for dark mode is what a dark-scheme reader
// sees (install-wide and an organization's), buttons keep readable text on it, and the header's
// Help link is reachable, accessible and fits a phone in German and Arabic.

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

/** `rgb(r, g, b)` as `#rrggbb`. */
const hex = (rgb: string) =>
  `#${(rgb.match(/\d+/g) ?? [])
    .slice(0, 3)
    .map((n) => Number(n).toString(16).padStart(2, '0'))
    .join('')}`;

describe('brand colours, dark mode and the Help link in Chromium', () => {
  const fx = withServer({
    browser: true,
    env: {
      LATCHKEY_BRAND_COLOR: '#0b5394',
      LATCHKEY_BRAND_COLOR_DARK: '#9ecbff',
      LATCHKEY_SUPPORT_URL: 'https://help.example.test/',
    },
  });

  before(async () => {
    if (!fx.running) return;
    const acme = await fx.server.deps.organizations.create(
      { slug: 'acme', name: 'Acme', displayName: 'Acme Sign-in' },
      systemContext(),
    );
    // as the brand API would save them (checked for contrast there)
    await fx.server.deps.db
      .updateTable('organizations')
      .set({ brand_color: '#6f2da8', brand_color_dark: '#ffa657' })
      .where('id', '=', acme.id)
      .execute();
  });

  async function context(
    b: Browser,
    o: { colorScheme: 'light' | 'dark'; viewport?: { width: number; height: number }; locale?: string },
  ): Promise<BrowserContext> {
    const ctx = await b.newContext({ colorScheme: o.colorScheme, viewport: o.viewport ?? DESKTOP, locale: o.locale });
    ctx.setDefaultTimeout(15_000);
    return ctx;
  }

  test('17 dark mode: the dark brand colour (LATCHKEY_BRAND_COLOR_DARK, an organization’s brand_color_dark) is the buttons’ background under prefers-color-scheme: dark; text on it stays ≥ 4.5:1', async (t) => {
    if (!fx.ready(t)) return;
    const want = {
      light: { '/login': '#0b5394', '/o/acme/login': '#6f2da8' },
      dark: { '/login': '#9ecbff', '/o/acme/login': '#ffa657' },
    } as const;
    const problems: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      const ctx = await context(fx.browser, { colorScheme });
      const page = await ctx.newPage();
      for (const [path, colour] of Object.entries(want[colorScheme])) {
        await page.goto(`${fx.server.base}${path}`);
        const seen = await page.evaluate(() => {
          const button = document.querySelector('button.primary') as HTMLElement;
          // a link styled as a button (the factor pages' "Continue"), put on this page to read its style
          const a = document.createElement('a');
          a.className = 'button primary';
          a.href = '#';
          a.textContent = 'Continue';
          document.querySelector('main')?.append(a);
          const b = getComputedStyle(button);
          const l = getComputedStyle(a);
          return { bg: b.backgroundColor, fg: b.color, linkBg: l.backgroundColor, linkFg: l.color };
        });
        const where = `${colorScheme} ${path}`;
        if (hex(seen.bg) !== colour) problems.push(`${where}: button background ${hex(seen.bg)}, want ${colour}`);
        if (hex(seen.linkBg) !== colour) problems.push(`${where}: button link background ${hex(seen.linkBg)}`);
        for (const [what, fg, bg] of [
          ['button', seen.fg, seen.bg],
          ['button link', seen.linkFg, seen.linkBg],
        ]) {
          const ratio = contrastRatio(hex(fg), hex(bg));
          if (ratio < 4.5) problems.push(`${where}: ${what} text ${hex(fg)} on ${hex(bg)} is ${ratio.toFixed(2)}:1`);
        }
      }
      await ctx.close();
    }
    assert.deepEqual(problems, []);
  });

  test('17 brand: the header’s Help link in German and Arabic on a phone, light and dark: named, pointing at the support page, no sideways scroll, axe clean', async (t) => {
    if (!fx.ready(t)) return;
    const problems: string[] = [];
    for (const [locale, name] of [
      ['de', 'Hilfe'],
      ['ar', 'المساعدة'],
    ] as const)
      for (const colorScheme of ['light', 'dark'] as const) {
        const ctx = await context(fx.browser, { colorScheme, viewport: PHONE, locale });
        const page = await ctx.newPage();
        for (const path of ['/login', '/o/acme/login']) {
          await page.goto(`${fx.server.base}${path}`);
          const where = `${locale} ${colorScheme} ${path}`;
          const link = page.locator('header.top').getByRole('link', { name, exact: true });
          if (!(await link.isVisible())) problems.push(`${where}: no visible Help link`);
          else {
            if ((await link.getAttribute('href')) !== 'https://help.example.test/')
              problems.push(`${where}: Help leads to ${await link.getAttribute('href')}`);
            const box = await link.boundingBox();
            if (!box || box.x < 0 || box.x + box.width > PHONE.width) problems.push(`${where}: Help is off screen`);
          }
          if (await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1))
            problems.push(`${where}: scrolls sideways`);
          // axe on one page per language and scheme (test/browser/pages17.test.ts runs it on every page)
          if (path === '/o/acme/login') {
            const v = await seriousA11yViolations(page);
            if (v.length) problems.push(`${where}: ${JSON.stringify(v)}`);
          }
        }
        await ctx.close();
      }
    assert.deepEqual(problems, []);
  });
});
