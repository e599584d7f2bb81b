import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type * as axe from 'axe-core';
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

let axeSource: string | undefined;

/**
 * Runs axe-core in the page; returns violations of impact serious or critical. axe is injected
 * once per document and run with `axe.run`, asking for violations only: the rules and their
 * answers are axe's own, but @axe-core/playwright's way (partial results from each frame, then a
 * blank page opened to finish them, for cross-origin frames no page of ours has; passes and
 * incomplete results gathered too) took 0.9–1.2 s a check against 0.1–0.3 s, and the page sweeps
 * make over a hundred checks.
 */
export async function seriousA11yViolations(
  page: Page,
  o: { rules?: string[] } = {},
): Promise<{ id: string; impact: string; help: string; nodes: number }[]> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(
    (rules) =>
      (window as unknown as { axe: typeof axe }).axe
        .run(document, { resultTypes: ['violations'], ...(rules ? { runOnly: { type: 'rule', values: rules } } : {}) })
        .then((r) =>
          r.violations.map((v) => ({ id: v.id, impact: String(v.impact), help: v.help, nodes: v.nodes.length })),
        ),
    o.rules,
  );
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * The axe rules that read colours. A page in dark mode has the same DOM as in light mode, so a
 * sweep runs every rule in light and only these in dark (the other rules would repeat the light
 * run's answer at twice the cost).
 */
export const COLOUR_RULES = ['color-contrast', 'link-in-text-block'];
