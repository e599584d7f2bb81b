import type { RequestContext } from '../../context.ts';
import type { Kernel } from '../../kernel.ts';
import type { Captcha, CaptchaWidget } from '../captcha.ts';

/** What this module uses of the container the composition root builds. */
export type SiteverifyDeps = Pick<Kernel, 'log'>;

export type SiteverifyProvider = 'turnstile' | 'hcaptcha' | 'recaptcha';

export const SITEVERIFY_URL: Record<SiteverifyProvider, string> = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
};

export interface SiteverifyOptions {
  siteKey: string;
  secret: string;
  verifyUrl: string;
  timeoutMs: number;
  /** reCAPTCHA v3 only: answers with a score below this fail */
  minScore: number;
  /** reCAPTCHA v3 only: when set, the answer's action must match */
  action?: string;
}

/**
 * Cloudflare Turnstile, hCaptcha and Google reCAPTCHA v2/v3 share one protocol: a form POST of
 * secret + response + remoteip to the provider's siteverify endpoint, answered with JSON
 * `{success, …}`. Anything but a clear success (an error, a timeout, a low v3 score) fails closed.
 * The providers themselves refuse a token seen before, so replays fail there.
 */
export class SiteverifyCaptcha implements Captcha {
  readonly widget: CaptchaWidget;

  constructor(
    private readonly d: SiteverifyDeps,
    readonly provider: SiteverifyProvider,
    private readonly o: SiteverifyOptions,
  ) {
    this.widget = { provider, siteKey: o.siteKey };
  }

  async verify(solution: string | undefined, ctx: RequestContext): Promise<boolean> {
    if (typeof solution !== 'string' || !solution || solution.length > 4096) return false;
    const form = new URLSearchParams({ secret: this.o.secret, response: solution });
    if (ctx.ip) form.set('remoteip', ctx.ip);
    if (this.provider === 'hcaptcha') form.set('sitekey', this.o.siteKey);
    try {
      const res = await fetch(this.o.verifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: 'error',
      });
      if (!res.ok) {
        this.d.log.warn({ provider: this.provider, status: res.status }, 'CAPTCHA siteverify answered with an error');
        return false;
      }
      const body = (await res.json()) as {
        success?: unknown;
        score?: unknown;
        action?: unknown;
        'error-codes'?: unknown;
      };
      if (body.success !== true) {
        this.d.log.debug({ provider: this.provider, errors: body['error-codes'] }, 'CAPTCHA rejected by provider');
        return false;
      }
      if (this.provider === 'recaptcha') {
        // v3 answers carry a score; v2 answers do not and pass on success alone.
        if (typeof body.score === 'number' && body.score < this.o.minScore) return false;
        if (this.o.action && body.action !== this.o.action) return false;
      }
      return true;
    } catch (err) {
      this.d.log.warn({ provider: this.provider, err: (err as Error).name }, 'CAPTCHA siteverify failed; refusing');
      return false;
    }
  }
}
