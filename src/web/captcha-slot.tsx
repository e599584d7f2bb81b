import type { Kernel } from '../kernel.ts';
import { Html } from './layout.tsx';

/** What this module uses of the container the composition root builds. */
export type CaptchaSlotDeps = Pick<Kernel, 'captcha'>;

void Html;

const PROVIDER_SCRIPT: Record<string, string> = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/api.js',
  hcaptcha: 'https://js.hcaptcha.com/1/api.js',
  recaptcha: 'https://www.google.com/recaptcha/api.js',
};
const PROVIDER_CLASS: Record<string, string> = {
  turnstile: 'cf-turnstile',
  hcaptcha: 'h-captcha',
  recaptcha: 'g-recaptcha',
};

/** Origins a third-party CAPTCHA loads scripts and frames from (for the CSP). */
export function captchaOrigins(provider: string): string[] {
  const script = PROVIDER_SCRIPT[provider];
  if (!script) return [];
  const origin = new URL(script).origin;
  return provider === 'recaptcha'
    ? [origin, 'https://www.gstatic.com']
    : provider === 'hcaptcha'
      ? [origin, 'https://*.hcaptcha.com']
      : [origin];
}

const CANNOT_LOAD =
  'If this check does not complete, reload the page. It needs JavaScript and a recent browser; if it still fails, contact support.';

/**
 * The CAPTCHA on a form, whatever the provider. Without JavaScript the widget cannot work, so the
 * page says plainly what to do instead of failing silently.
 */
export function CaptchaSlot(d: CaptchaSlotDeps): JSX.Element {
  const w = d.captcha.widget;
  if (w.provider === 'off') return '';
  const help = (
    <>
      <noscript>
        <p class="notice error">This check needs JavaScript. Please enable it, or contact support if you cannot.</p>
      </noscript>
      <p class="hint">{CANNOT_LOAD}</p>
    </>
  );
  if (w.provider === 'altcha') {
    // Without JavaScript the proof of work cannot run: the form carries a signed ticket instead,
    // accepted once the stated wait has passed (AltchaCaptcha.noJsTicket).
    const noJs = d.captcha.noJsTicket?.();
    return (
      <div class="field captcha">
        <link rel="stylesheet" href="/static/altcha/altcha.css" />
        <script src="/static/altcha/altcha.js" defer></script>
        <altcha-widget
          challenge={w.challengeUrl ?? '/api/v1/captcha/challenge'}
          name="altcha"
          auto="onload"
        ></altcha-widget>
        {noJs ? (
          <noscript>
            <input type="hidden" name="altcha_nojs" value={noJs.ticket} />
            <p class="notice info" safe>
              {`Without JavaScript, this check is a short wait: send the form at least ${noJs.waitSeconds} second${noJs.waitSeconds === 1 ? '' : 's'} after this page opened. If it is refused, wait and send it again.`}
            </p>
          </noscript>
        ) : (
          help
        )}
        {noJs ? (
          <p class="hint">If this check does not complete, reload the page; if it still fails, contact support.</p>
        ) : (
          ''
        )}
      </div>
    );
  }
  return (
    <div class="field captcha">
      <script src={PROVIDER_SCRIPT[w.provider]} async defer></script>
      <div class={PROVIDER_CLASS[w.provider]} data-sitekey={w.siteKey}></div>
      {help}
    </div>
  );
}
