// `npm run docs:screenshots`: the README's pictures of the sign-in page, light and dark, in English
// and Arabic (right to left), taken in
// Chromium from a throwaway development server (fresh SQLite file, no SMTP). Run it after changing
// the look of the pages; the test suite never writes into docs/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from '../test/support/browser.ts';
import { startTestServer } from '../test/support/server.ts';

const DIR = join(import.meta.dirname, '..', 'docs', 'screenshots');

async function main(): Promise<void> {
  const server = await startTestServer();
  const browser = await launchBrowser();
  if (!browser) throw new Error('Chromium is needed (LATCHKEY_TEST_CHROMIUM or /usr/bin/chromium)');
  try {
    mkdirSync(DIR, { recursive: true });
    for (const locale of ['en', 'ar'] as const)
      for (const colorScheme of ['light', 'dark'] as const) {
        const ctx = await browser.newContext({ viewport: { width: 800, height: 640 }, colorScheme, locale });
        const page = await ctx.newPage();
        await page.goto(`${server.base}/login`);
        await page.locator(`html[lang="${locale}"] h1`).waitFor();
        const file = join(DIR, locale === 'en' ? `login-${colorScheme}.png` : `login-${locale}-${colorScheme}.png`);
        await page.screenshot({ path: file });
        console.log(`wrote ${file}`);
        await ctx.close();
      }
  } finally {
    await browser.close();
    await server.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
