import type { FactorOffer } from '../../flows/signin/second-factor.ts';
import { th } from '../../i18n/index.ts';
import { Html } from '../../web/layout.tsx';

void Html;

// The browser half of passkeys: @simplewebauthn/browser's own bundle, served from node_modules
// (no CDN, so the CSP's script-src 'self' covers it), and our small script that drives it.
export const BUNDLE_PATH = '/static/passkey/webauthn.js';
export const SCRIPT_PATH = '/static/passkey/passkey.js';

export const passkeyScripts = () => (
  <>
    <script src={BUNDLE_PATH} defer></script>
    <script src={SCRIPT_PATH} defer></script>
  </>
);

/** The passkey's part of /login/second-factor: a button that answers with a passkey, then posts the form. */
export function secondFactorFragment(offer: FactorOffer): string {
  return (
    <form
      method="post"
      action="/login/second-factor"
      class="card"
      data-passkey-second-factor
      data-options={JSON.stringify(offer.options ?? {})}
      novalidate
    >
      <p>{th('passkey.second_factor_hint')}</p>
      <input type="hidden" name="webauthn" value="" />
      <div class="field check">
        <input type="checkbox" id="f-remember-passkey" name="remember" value="1" />
        <label for="f-remember-passkey">{th('passkey.remember')}</label>
      </div>
      <button type="submit" class="primary" data-passkey-button hidden>
        {th('passkey.use')}
      </button>
      <p class="hint" data-passkey-status role="status" aria-live="polite"></p>
      <p class="hint" data-passkey-nojs>
        {th('passkey.use_nojs')}
      </p>
      {passkeyScripts()}
    </form>
  ) as string;
}
