import type { RequestContext } from '../context.ts';

/** What a page needs to show the CAPTCHA widget. */
export interface CaptchaWidget {
  provider: 'altcha' | 'turnstile' | 'hcaptcha' | 'recaptcha' | 'off';
  siteKey?: string;
  challengeUrl?: string;
}

export interface Captcha {
  readonly widget: CaptchaWidget;
  /** True only for a fresh, valid, never-used solution. */
  verify(solution: string | undefined, ctx: RequestContext): Promise<boolean>;
  /**
   * A provider that can work without JavaScript hands a form this: a signed ticket the form
   * carries in a <noscript> field, and the seconds to wait before it is accepted.
   */
  noJsTicket?(): { ticket: string; waitSeconds: number };
}

export const noCaptcha: Captcha = {
  widget: { provider: 'off' },
  verify: async () => true,
};
