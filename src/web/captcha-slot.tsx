import type { Deps } from '../deps.ts';
import { Html } from './layout.tsx';

void Html;

/**
 * The CAPTCHA on a form, whatever the provider. Without JavaScript the ALTCHA widget cannot
 * solve its puzzle, so the page says so plainly instead of failing silently.
 */
export function CaptchaSlot(d: Deps): JSX.Element {
  const w = d.captcha.widget;
  if (w.provider === 'off') return '';
  if (w.provider === 'altcha')
    return (
      <div class="field captcha">
        <altcha-widget challengeurl={w.challengeUrl ?? '/api/v1/captcha/challenge'} name="altcha" auto="onload"></altcha-widget>
        <noscript>
          <p class="notice error">This check needs JavaScript. Please enable it, or contact support if you cannot.</p>
        </noscript>
      </div>
    );
  return (
    <div class="field captcha">
      <div class={`captcha-${w.provider}`} data-sitekey={w.siteKey}></div>
      <noscript>
        <p class="notice error">This check needs JavaScript. Please enable it, or contact support if you cannot.</p>
      </noscript>
    </div>
  );
}
