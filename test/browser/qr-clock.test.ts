import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { FakeClock } from '../../src/security/clock.ts';
import { signedInUser, type User } from '../phone/helpers.ts';
import { withServer } from '../support/fixture.ts';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

// The server's clock is a fake one the test moves: rotation and expiry at the exact millisecond.
describe('QR sign-in in Chromium with an injected clock', () => {
  const clock = new FakeClock(Date.now());
  const fx = withServer({ browser: true, overrides: { clock } });

  async function signIn(page: Page, u: User) {
    await page.goto(`${fx.server.base}/login`);
    await page.getByLabel('Username or email address').fill(u.username);
    await page.getByLabel('Password', { exact: true }).fill(u.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/settings$/);
  }

  const text = async (page: Page, sel: string) => (await page.locator(sel).textContent())?.trim() as string;

  async function openByCode(phone: Page, code: string) {
    await phone.goto(`${fx.server.base}/qr`);
    await phone.getByLabel('Code from the other device').fill(code);
    await phone.getByRole('button', { name: 'Continue' }).click();
  }

  test('QR-01 the code rotates after 60 s and the attempt dies exactly 2 minutes after it began', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'qrclock1');
    const phone = await (await fx.browser.newContext(PHONE)).newPage();
    await signIn(phone, u);
    const desk = await (await fx.browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await desk.goto(`${fx.server.base}/login/qr`);
    await desk.locator('.qr-box svg').waitFor();
    const first = await text(desk, '#qr-code');
    clock.advance(60_000);
    // The page's next poll is told to rotate: a new QR and code replace the old ones.
    await desk.waitForFunction((old) => document.getElementById('qr-code')?.textContent?.trim() !== old, first, {
      timeout: 15_000,
    });
    const second = await text(desk, '#qr-code');
    const number = await text(desk, '#qr-number');
    await openByCode(phone, first);
    await phone.getByText('This QR code has expired or was already used.').waitFor();

    clock.advance(59_999); // 1 ms before the end of the whole attempt
    await openByCode(phone, second);
    await phone.getByText('Approve a sign-in?').waitFor();
    await phone.getByLabel(number, { exact: true }).check();
    await phone.getByLabel('Your password').fill(u.password);
    clock.advance(1); // exactly 2 minutes
    await phone.getByRole('button', { name: 'Approve' }).click();
    await phone.getByText('This QR code has expired or was already used.').waitFor();
    await desk.getByText('This code has expired.').waitFor({ timeout: 20_000 });
    assert.equal(
      (await desk.context().cookies()).some((c) => c.name === 'latchkey_session'),
      false,
    );
    await desk.context().close();
    await phone.context().close();
  });

  test('QR-08 a phone signed in longer ago than the re-authentication window must sign in again first', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'qrclock2');
    const phone = await (await fx.browser.newContext(PHONE)).newPage();
    await signIn(phone, u);
    clock.advance(11 * 60_000);
    const desk = await (await fx.browser.newContext({ javaScriptEnabled: false })).newPage();
    await desk.goto(`${fx.server.base}/login/qr`);
    await desk.getByRole('button', { name: 'Show a QR code' }).click();
    const code = await text(desk, '#qr-code');
    const number = await text(desk, '#qr-number');
    await openByCode(phone, code);
    await phone.getByLabel(number, { exact: true }).check();
    await phone.getByLabel('Your password').fill(u.password);
    await phone.getByRole('button', { name: 'Approve' }).click();
    await phone.waitForURL(/\/login\?msg=reauthenticate&next=%2Fqr$/);
    await desk.getByRole('button', { name: 'I approved it — continue' }).click();
    await desk.getByText('Not approved yet').waitFor();
    // Signed in again, the same phone may approve.
    await phone.getByLabel('Username or email address').fill(u.username);
    await phone.getByLabel('Password', { exact: true }).fill(u.password);
    await phone.getByRole('button', { name: 'Sign in' }).click();
    await phone.waitForURL(/\/qr$/);
    await openByCode(phone, code);
    await phone.getByLabel(number, { exact: true }).check();
    await phone.getByLabel('Your password').fill(u.password);
    await phone.getByRole('button', { name: 'Approve' }).click();
    await phone.getByText('Approved. The other device is now signing in.').waitFor();
    await desk.getByRole('button', { name: 'I approved it — continue' }).click();
    await desk.waitForURL(/\/settings$/);
    await desk.context().close();
    await phone.context().close();
  });
});
