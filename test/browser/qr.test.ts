import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { signedInUser, type User } from '../phone/helpers.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';

const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
};

describe('QR sign-in in Chromium: a desktop (1280×800) and a phone (390×844) on one server', () => {
  const fx = withServer({ browser: true });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  async function signIn(page: Page, u: User) {
    await page.goto(`${fx.server.base}/login`);
    await page.getByLabel('Username or email address').fill(u.username);
    await page.getByLabel('Password', { exact: true }).fill(u.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/settings$/);
  }

  async function desktopWithQr(): Promise<{ ctx: BrowserContext; page: Page; number: string; code: string }> {
    const ctx = await fx.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/login`);
    await page.getByRole('link', { name: 'Sign in with your phone' }).click();
    await page.locator('.qr-box svg').waitFor();
    const number = (await page.locator('#qr-number').textContent())?.trim() as string;
    const code = (await page.locator('#qr-code').textContent())?.trim() as string;
    return { ctx, page, number, code };
  }

  async function phoneSignedIn(u: User, o: { noBarcodeDetector?: boolean } = {}): Promise<Page> {
    const ctx = await fx.browser.newContext(PHONE);
    // The in-page scanner must work with the JS decoder where the browser has no BarcodeDetector.
    if (o.noBarcodeDetector) await ctx.addInitScript('delete window.BarcodeDetector');
    const page = await ctx.newPage();
    await signIn(page, u);
    return page;
  }

  /** The QR's link, decoded from the rendered SVG in the desktop page with the served jsQR. */
  async function linkInQr(page: Page): Promise<string> {
    await page.addScriptTag({ url: '/static/vendor/jsqr.js' });
    return page.evaluate(async () => {
      const svg = document.querySelector('.qr-box svg') as SVGSVGElement;
      const img = new Image();
      img.src = `data:image/svg+xml;base64,${btoa(new XMLSerializer().serializeToString(svg))}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = 400;
      c.height = 400;
      const g = c.getContext('2d') as CanvasRenderingContext2D;
      g.fillStyle = '#fff';
      g.fillRect(0, 0, 400, 400);
      g.drawImage(img, 0, 0, 400, 400);
      const data = g.getImageData(0, 0, 400, 400);
      return (window as any).jsQR(data.data, 400, 400)?.data as string;
    });
  }

  async function approveOnPhone(phone: Page, number: string, password: string) {
    await phone.getByText('Approve a sign-in?').waitFor();
    await phone.getByLabel(number, { exact: true }).check();
    await phone.getByLabel('Your password').fill(password);
    await phone.getByRole('button', { name: 'Approve' }).click();
    await phone.getByText('Approved. The other device is now signing in.').waitFor();
  }

  test('QR-01 QR-04 QR-06 happy path by the QR link: the desktop lands signed in, with a session of its own', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'qrbrowser1');
    const phone = await phoneSignedIn(u);
    const desk = await desktopWithQr();
    await noSeriousA11y(desk.page, '/login/qr');
    await screenshot(desk.page, 'qr-01-desktop');
    const link = await linkInQr(desk.page);
    assert.match(link, new RegExp(`^${fx.server.base}/qr/[A-Za-z0-9_-]{43}$`));
    await phone.goto(link);
    await phone.getByText('Approve a sign-in?').waitFor();
    await phone.getByText('Chrome').first().waitFor();
    await noSeriousA11y(phone, '/qr/{secret}');
    await screenshot(phone, 'qr-02-phone-approve');
    // Decline is the default button: first in the form, the one Enter presses.
    const first = await phone.locator('form[action="/qr/decide"] button[type=submit]').first().textContent();
    assert.equal(first?.trim(), 'Decline');
    await approveOnPhone(phone, desk.number, u.password);
    await desk.page.waitForURL(/\/settings$/, { timeout: 15_000 });
    await desk.page.getByText(u.username).first().waitFor();
    const desktopCookie = (await desk.ctx.cookies()).find((c) => c.name === 'latchkey_session')?.value;
    const phoneCookie = (await phone.context().cookies()).find((c) => c.name === 'latchkey_session')?.value;
    assert.ok(desktopCookie && phoneCookie && desktopCookie !== phoneCookie, 'never a copy of the phone session');
    await phone.goto(`${fx.server.base}/settings`);
    await phone.getByText('Signed in on a new browser by QR code').waitFor();
    await desk.ctx.close();
    await phone.context().close();
  });

  test('QR-03 happy path by the typed code', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'qrbrowser2');
    const phone = await phoneSignedIn(u);
    const desk = await desktopWithQr();
    await phone.goto(`${fx.server.base}/settings`);
    await phone.getByRole('link', { name: 'Sign in on another device' }).click();
    await phone.waitForURL(/\/qr$/);
    await noSeriousA11y(phone, '/qr');
    await screenshot(phone, 'qr-03-phone-code');
    await phone.getByLabel('Code from the other device').fill(desk.code.toLowerCase());
    await phone.getByRole('button', { name: 'Continue' }).click();
    await approveOnPhone(phone, desk.number, u.password);
    await desk.page.waitForURL(/\/settings$/, { timeout: 15_000 });
    await desk.ctx.close();
    await phone.context().close();
  });

  test('QR-03 happy path by the in-page scanner fed a photo of the QR (JS decoder, no BarcodeDetector)', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'qrbrowser3');
    const phone = await phoneSignedIn(u, { noBarcodeDetector: true });
    const desk = await desktopWithQr();
    const photo = await desk.page.locator('.qr-box svg').screenshot();
    await phone.goto(`${fx.server.base}/qr`);
    assert.equal(await phone.evaluate(() => 'BarcodeDetector' in window), false);
    await phone.getByLabel('Or choose a photo of the QR code').setInputFiles({
      name: 'qr.png',
      mimeType: 'image/png',
      buffer: photo,
    });
    await phone.waitForURL(/\/qr\/[A-Za-z0-9_-]{43}$/);
    await approveOnPhone(phone, desk.number, u.password);
    await desk.page.waitForURL(/\/settings$/, { timeout: 15_000 });
    await desk.ctx.close();
    await phone.context().close();
  });

  test('QR-04 decline: the desktop is told and stays signed out', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'qrbrowser4');
    const phone = await phoneSignedIn(u);
    const desk = await desktopWithQr();
    await phone.goto(`${fx.server.base}/qr`);
    await phone.getByLabel('Code from the other device').fill(desk.code);
    await phone.getByLabel('Code from the other device').press('Enter');
    await phone.getByText('Approve a sign-in?').waitFor();
    // Enter in the password field presses the default button: Decline.
    await phone.getByLabel('Your password').fill(u.password);
    await phone.getByLabel('Your password').press('Enter');
    await phone.getByText('You declined. The other device was not signed in.').waitFor();
    await desk.page.getByText('The sign-in was declined on the phone.').waitFor({ timeout: 15_000 });
    assert.equal(
      (await desk.ctx.cookies()).some((c) => c.name === 'latchkey_session'),
      false,
    );
    await desk.ctx.close();
    await phone.context().close();
  });

  test('QR-07 a wrong number cancels the request', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'qrbrowser5');
    const phone = await phoneSignedIn(u);
    const desk = await desktopWithQr();
    await phone.goto(`${fx.server.base}/qr`);
    await phone.getByLabel('Code from the other device').fill(desk.code);
    await phone.getByRole('button', { name: 'Continue' }).click();
    const choices = await phone
      .locator('input[name=number]')
      .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    assert.equal(choices.length, 3);
    assert.ok(choices.includes(desk.number));
    const wrong = choices.find((n) => n !== desk.number) as string;
    await phone.getByLabel(wrong, { exact: true }).check();
    await phone.getByLabel('Your password').fill(u.password);
    await phone.getByRole('button', { name: 'Approve' }).click();
    await phone.getByText('That was not the number on the other screen').waitFor();
    await desk.page.getByText('The sign-in was declined on the phone.').waitFor({ timeout: 15_000 });
    await desk.ctx.close();
    await phone.context().close();
  });

  test('without JavaScript: "I approved it — continue" signs the desktop in', async (t) => {
    if (!fx.ready(t)) return;
    const u = await signedInUser(fx.server, 'qrbrowser6');
    const phone = await phoneSignedIn(u);
    const ctx = await fx.browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/login/qr`);
    await page.getByRole('button', { name: 'Show a QR code' }).click();
    await page.locator('.qr-box svg').waitFor();
    const number = (await page.locator('#qr-number').textContent())?.trim() as string;
    const code = (await page.locator('#qr-code').textContent())?.trim() as string;
    await page.getByRole('button', { name: 'I approved it — continue' }).click();
    await page.getByText('Not approved yet.').waitFor();
    const fresh = (await page.locator('#qr-code').textContent())?.trim() as string;
    assert.notEqual(fresh, code, 'a fresh code replaces the one no phone opened');
    await phone.goto(`${fx.server.base}/qr`);
    await phone.getByLabel('Code from the other device').fill(fresh);
    await phone.getByRole('button', { name: 'Continue' }).click();
    const n = (await page.locator('#qr-number').textContent())?.trim() as string;
    assert.ok(n);
    void number;
    await approveOnPhone(phone, n, u.password);
    await page.getByRole('button', { name: 'I approved it — continue' }).click();
    await page.waitForURL(/\/settings$/);
    await ctx.close();
    await phone.context().close();
  });
});
