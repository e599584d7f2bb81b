import { ConfigError } from '../../config/index.ts';
import type { Kernel } from '../../kernel.ts';
import { type Captcha, noCaptcha } from '../captcha.ts';
import { AltchaCaptcha, type AltchaDeps } from './altcha.ts';
import { SITEVERIFY_URL, SiteverifyCaptcha, type SiteverifyDeps } from './siteverify.ts';

/** What this module uses of the container the composition root builds. */
export type CaptchaDeps = Pick<Kernel, 'config'> & AltchaDeps & SiteverifyDeps;

/** The CAPTCHA chosen by LATCHKEY_CAPTCHA, with a clear start-up error for a half-done setup. */
export function createCaptcha(d: CaptchaDeps): Captcha {
  const raw = d.config.raw;
  const provider = d.config.captcha;
  if (provider === 'off') return noCaptcha;
  if (provider === 'altcha')
    return new AltchaCaptcha(d, { maxNumber: raw.LATCHKEY_ALTCHA_MAX_NUMBER as number, ttlMs: raw.LATCHKEY_CAPTCHA_TTL as number });
  const siteKey = raw.LATCHKEY_CAPTCHA_SITE_KEY as string | undefined;
  const secret = raw.LATCHKEY_CAPTCHA_SECRET as string | undefined;
  const minScore = Number(raw.LATCHKEY_RECAPTCHA_MIN_SCORE);
  const problems: string[] = [];
  if (!siteKey) problems.push(`LATCHKEY_CAPTCHA_SITE_KEY: required when LATCHKEY_CAPTCHA=${provider}`);
  if (!secret) problems.push(`LATCHKEY_CAPTCHA_SECRET: required when LATCHKEY_CAPTCHA=${provider}`);
  if (!(minScore >= 0 && minScore <= 1)) problems.push('LATCHKEY_RECAPTCHA_MIN_SCORE: must be a number from 0.0 to 1.0');
  if (problems.length) throw new ConfigError(problems);
  return new SiteverifyCaptcha(d, provider, {
    siteKey: siteKey as string,
    secret: secret as string,
    verifyUrl: (raw.LATCHKEY_CAPTCHA_VERIFY_URL as string | undefined) ?? SITEVERIFY_URL[provider],
    timeoutMs: raw.LATCHKEY_CAPTCHA_TIMEOUT as number,
    minScore,
    action: (raw.LATCHKEY_RECAPTCHA_ACTION as string | undefined) || undefined,
  });
}
