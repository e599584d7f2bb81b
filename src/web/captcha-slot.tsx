import { currentLocale, th } from '../i18n/index.ts';
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

/**
 * The CAPTCHA on a form, whatever the provider. Without JavaScript the widget cannot work, so the
 * page says plainly what to do instead of failing silently.
 */
export function CaptchaSlot(d: CaptchaSlotDeps): JSX.Element {
  const w = d.captcha.widget;
  if (w.provider === 'off') return '';
  // The widgets speak the page's language too: ALTCHA reads <html lang> (its own translations,
  // served with it by src/security/captcha/api.ts), the others take the provider's parameter.
  const lang = currentLocale();
  const help = (
    <>
      <noscript>
        <p class="notice error">{th('web.page.captcha_needs_js')}</p>
      </noscript>
      <p class="hint">{th('web.page.captcha_cannot_load')}</p>
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
            <p class="notice info">{th('web.page.captcha_nojs_wait', { count: noJs.waitSeconds })}</p>
          </noscript>
        ) : (
          help
        )}
        {noJs ? <p class="hint">{th('web.page.captcha_reload')}</p> : ''}
      </div>
    );
  }
  return (
    <div class="field captcha">
      <script
        src={
          w.provider === 'turnstile'
            ? PROVIDER_SCRIPT[w.provider]
            : `${PROVIDER_SCRIPT[w.provider]}?hl=${encodeURIComponent(lang)}`
        }
        async
        defer
      ></script>
      <div
        class={PROVIDER_CLASS[w.provider]}
        data-sitekey={w.siteKey}
        data-language={w.provider === 'turnstile' ? lang.toLowerCase() : undefined}
      ></div>
      {help}
    </div>
  );
}
