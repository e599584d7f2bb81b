import type { Deps } from '../../deps.ts';
import { type Captcha, noCaptcha } from '../captcha.ts';
import { AltchaCaptcha } from './altcha.ts';
import { SITEVERIFY_URL, SiteverifyCaptcha } from './siteverify.ts';

/** The CAPTCHA chosen by LATCHKEY_CAPTCHA (a half-done setup already stopped the start, src/config/sections.ts). */
export function createCaptcha(d: Deps): Captcha {
  const c = d.config.captcha;
  if (c.provider === 'off') return noCaptcha;
  if (c.provider === 'altcha') return new AltchaCaptcha(d, c.altcha);
  return new SiteverifyCaptcha(d, c.provider, { ...c.siteverify, verifyUrl: c.siteverify.verifyUrl ?? SITEVERIFY_URL[c.provider] });
}
