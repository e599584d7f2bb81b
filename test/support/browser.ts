import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CHROMIUM, chromiumAvailable, needs } from './env.ts';

export const ARTIFACTS = join(process.cwd(), 'test-artifacts');

/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser). The flags keep it
 * off the network: this machine has none beyond loopback.
 */
export async function launchBrowser(t?: TestContext): Promise<Browser | undefined> {
  if (!needs(t, `Chromium at ${CHROMIUM}`, chromiumAvailable())) return undefined;
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Saves a full-page screenshot under test-artifacts/ (kept by CI as an artifact). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Runs axe-core in the page (the page must come from browser.newContext(), not browser.newPage()); returns violations of impact serious or critical. */
export async function seriousA11yViolations(
  page: Page,
  o: { rules?: string[] } = {},
): Promise<{ id: string; impact: string; help: string; nodes: number }[]> {
  const { AxeBuilder } = await import('@axe-core/playwright');
  const builder = new AxeBuilder({ page });
  if (o.rules) builder.withRules(o.rules);
  const result = await builder.analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: String(v.impact), help: v.help, nodes: v.nodes.length }));
}

/**
 * The axe rules that read colours. A page in dark mode has the same DOM as in light mode, so a
 * sweep runs every rule in light and only these in dark (the other rules would repeat the light
 * run's answer at twice the cost).
 */
export const COLOUR_RULES = ['color-contrast', 'link-in-text-block'];
