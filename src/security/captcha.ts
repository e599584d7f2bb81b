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
}

export const noCaptcha: Captcha = {
  widget: { provider: 'off' },
  verify: async () => true,
};
