import type { Kernel } from '../../kernel.ts';
import { type Captcha, noCaptcha } from '../captcha.ts';
import { AltchaCaptcha, type AltchaDeps } from './altcha.ts';
import { SITEVERIFY_URL, SiteverifyCaptcha, type SiteverifyDeps } from './siteverify.ts';

/** What this module uses of the container the composition root builds. */
export type CaptchaDeps = Pick<Kernel, 'config'> & AltchaDeps & SiteverifyDeps;

/** The CAPTCHA chosen by LATCHKEY_CAPTCHA (a half-done setup already stopped the start, src/config/sections.ts). */
export function createCaptcha(d: CaptchaDeps): Captcha {
  const c = d.config.captcha;
  if (c.provider === 'off') return noCaptcha;
  if (c.provider === 'altcha') return new AltchaCaptcha(d, c.altcha);
  return new SiteverifyCaptcha(d, c.provider, {
    ...c.siteverify,
    verifyUrl: c.siteverify.verifyUrl ?? SITEVERIFY_URL[c.provider],
  });
}
