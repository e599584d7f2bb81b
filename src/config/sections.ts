// Typed sections of the configuration, built once at start from the settings map. A rule that
// spans settings (a provider needs its keys, a lockout needs a sane cap) is checked here, so a
// bad setup stops the start with one ConfigError naming every problem.
import type { GuardedAction } from '../security/guard.ts';
import type { Rate, RateSetting, Settings } from './load.ts';

type SiteverifyProvider = 'turnstile' | 'hcaptcha' | 'recaptcha';
type AltchaConfig = { maxNumber: number; ttlMs: number; noJsWaitMs: number };

/** LATCHKEY_CAPTCHA and what the chosen provider needs. */
export type CaptchaConfig =
  | { provider: 'off'; altcha: AltchaConfig }
  | { provider: 'altcha'; altcha: AltchaConfig }
  | {
      provider: SiteverifyProvider;
      altcha: AltchaConfig;
      siteverify: {
        siteKey: string;
        secret: string;
        verifyUrl?: string;
        timeoutMs: number;
        minScore: number;
        action?: string;
      };
    };

export function captchaSection(s: Settings, problems: string[]): CaptchaConfig {
  const provider = s.LATCHKEY_CAPTCHA;
  const altcha = {
    maxNumber: s.LATCHKEY_ALTCHA_MAX_NUMBER,
    ttlMs: s.LATCHKEY_CAPTCHA_TTL,
    noJsWaitMs: s.LATCHKEY_CAPTCHA_NOJS_WAIT,
  };
  if (provider === 'off') return { provider, altcha };
  if (provider === 'altcha') return { provider, altcha };
  const siteKey = s.LATCHKEY_CAPTCHA_SITE_KEY;
  const secret = s.LATCHKEY_CAPTCHA_SECRET;
  const minScore = Number(s.LATCHKEY_RECAPTCHA_MIN_SCORE);
  if (!siteKey) problems.push(`LATCHKEY_CAPTCHA_SITE_KEY: required when LATCHKEY_CAPTCHA=${provider}`);
  if (!secret) problems.push(`LATCHKEY_CAPTCHA_SECRET: required when LATCHKEY_CAPTCHA=${provider}`);
  if (!(minScore >= 0 && minScore <= 1))
    problems.push('LATCHKEY_RECAPTCHA_MIN_SCORE: must be a number from 0.0 to 1.0');
  return {
    provider,
    altcha,
    siteverify: {
      siteKey: siteKey ?? '',
      secret: secret ?? '',
      verifyUrl: s.LATCHKEY_CAPTCHA_VERIFY_URL,
      timeoutMs: s.LATCHKEY_CAPTCHA_TIMEOUT,
      minScore,
      action: s.LATCHKEY_RECAPTCHA_ACTION,
    },
  };
}

/** Rate limits, quotas and the sign-in lockout (src/security/limits.ts, lockout.ts). */
export interface LimitsConfig {
  scale: number;
  perIp: Record<GuardedAction, Rate>;
  /** sign-in has no per-account rate: the lockout counts per account instead */
  perSubject: Partial<Record<GuardedAction, Rate>>;
  quotas: { reset_mail: Rate; otp_message: Rate; lockout_notice: Rate; sms_budget: Rate };
  captchaAfter: number;
  lockAfter: number;
  lockBaseMs: number;
  lockMaxMs: number;
  hardCap: number;
  memoryMs: number;
  /** IPv6 clients are counted per network of this many leading bits (BF-02) */
  ipv6Prefix: number;
  redisUrl?: string;
  redisPrefix: string;
  /** Redis connect and command timeout, ms (AV-02) */
  redisTimeoutMs: number;
  /** LOG-04: more completed password changes than this flag the account */
  flagResets: RateSetting;
}

export function limitsSection(s: Settings, dev: boolean, problems: string[]): LimitsConfig {
  const limits: LimitsConfig = {
    scale: s.LATCHKEY_RATE_LIMIT_SCALE,
    perIp: {
      sign_in: s.LATCHKEY_LIMIT_SIGN_IN_IP,
      registration: s.LATCHKEY_LIMIT_REGISTRATION_IP,
      activation: s.LATCHKEY_LIMIT_ACTIVATION_IP,
      reset_request: s.LATCHKEY_LIMIT_RESET_REQUEST_IP,
      support_request: s.LATCHKEY_LIMIT_SUPPORT_REQUEST_IP,
      reset_complete: s.LATCHKEY_LIMIT_RESET_COMPLETE_IP,
      otp_send: s.LATCHKEY_LIMIT_OTP_SEND_IP,
      otp_verify: s.LATCHKEY_LIMIT_OTP_VERIFY_IP,
      password_change: s.LATCHKEY_LIMIT_PASSWORD_CHANGE_IP,
      qr_create: s.LATCHKEY_LIMIT_QR_CREATE_IP,
      qr_approve: s.LATCHKEY_LIMIT_QR_APPROVE_IP,
      second_factor: s.LATCHKEY_LIMIT_SECOND_FACTOR_IP,
      profile_change: s.LATCHKEY_LIMIT_PROFILE_CHANGE_IP,
    },
    perSubject: {
      registration: s.LATCHKEY_LIMIT_REGISTRATION_ID,
      activation: s.LATCHKEY_LIMIT_ACTIVATION_ID,
      reset_request: s.LATCHKEY_LIMIT_RESET_REQUEST_ID,
      support_request: s.LATCHKEY_LIMIT_SUPPORT_REQUEST_CONTACT,
      reset_complete: s.LATCHKEY_LIMIT_RESET_COMPLETE_ID,
      otp_send: s.LATCHKEY_LIMIT_OTP_SEND_ID,
      otp_verify: s.LATCHKEY_LIMIT_OTP_VERIFY_ID,
      password_change: s.LATCHKEY_LIMIT_PASSWORD_CHANGE_ID,
      profile_change: s.LATCHKEY_LIMIT_PROFILE_CHANGE_ID,
      qr_approve: s.LATCHKEY_LIMIT_QR_APPROVE_ID,
    },
    quotas: {
      reset_mail: s.LATCHKEY_RESET_MAIL_CAP,
      otp_message: s.LATCHKEY_OTP_MESSAGE_CAP,
      // one "we blocked sign-in attempts" mail per lockout period, however long the attack goes on
      lockout_notice: { points: 1, windowMs: s.LATCHKEY_LOCKOUT_MAX },
      // every SMS the install queues, one subject for all processes (OTP-05, src/delivery/sms/budget.ts)
      sms_budget: s.LATCHKEY_SMS_BUDGET,
    },
    captchaAfter: s.LATCHKEY_SIGN_IN_CAPTCHA_AFTER,
    lockAfter: s.LATCHKEY_LOCKOUT_AFTER,
    lockBaseMs: s.LATCHKEY_LOCKOUT_BASE,
    lockMaxMs: s.LATCHKEY_LOCKOUT_MAX,
    hardCap: s.LATCHKEY_LOCKOUT_HARD_CAP,
    memoryMs: s.LATCHKEY_LOCKOUT_MEMORY,
    ipv6Prefix: s.LATCHKEY_IPV6_PREFIX,
    redisUrl: s.LATCHKEY_REDIS_URL,
    redisPrefix: s.LATCHKEY_REDIS_PREFIX,
    redisTimeoutMs: s.LATCHKEY_REDIS_TIMEOUT,
    flagResets: s.LATCHKEY_FLAG_RESETS,
  };
  if (limits.lockAfter > limits.hardCap)
    problems.push('LATCHKEY_LOCKOUT_AFTER: must not be larger than LATCHKEY_LOCKOUT_HARD_CAP');
  if (!dev && limits.scale > 1)
    problems.push('LATCHKEY_RATE_LIMIT_SCALE: must be 1 when LATCHKEY_ENV=production (it loosens every limit)');
  return limits;
}

/** The SMS gateway and the OTP-05 guards on what SMS may cost. */
export interface SmsConfig {
  gateway:
    | { kind: 'none' }
    | { kind: 'twilio'; baseUrl: string; accountSid: string; authToken: string }
    | { kind: 'vonage'; baseUrl: string; apiKey: string; apiSecret: string }
    | { kind: 'webhook'; url: string; secret: string };
  from: string;
  /** send under the organization's name (an alphanumeric sender id) instead of `from` */
  brandSender: boolean;
  timeoutMs: number;
  /** country calling codes without `+`; empty: any country */
  allowedCallingCodes: string[];
  budget: RateSetting;
}

export function smsSection(s: Settings, problems: string[]): SmsConfig {
  const kind = s.LATCHKEY_SMS_GATEWAY;
  const need = <V>(name: string, v: V | undefined): V => {
    if (!v) problems.push(`${name}: required when LATCHKEY_SMS_GATEWAY=${kind}`);
    return v ?? ('' as V);
  };
  const gateway = ((): SmsConfig['gateway'] => {
    switch (kind) {
      case 'twilio':
        return {
          kind,
          baseUrl: s.LATCHKEY_TWILIO_BASE_URL,
          accountSid: need('LATCHKEY_TWILIO_ACCOUNT_SID', s.LATCHKEY_TWILIO_ACCOUNT_SID),
          authToken: need('LATCHKEY_TWILIO_AUTH_TOKEN', s.LATCHKEY_TWILIO_AUTH_TOKEN),
        };
      case 'vonage':
        return {
          kind,
          baseUrl: s.LATCHKEY_VONAGE_BASE_URL,
          apiKey: need('LATCHKEY_VONAGE_API_KEY', s.LATCHKEY_VONAGE_API_KEY),
          apiSecret: need('LATCHKEY_VONAGE_API_SECRET', s.LATCHKEY_VONAGE_API_SECRET),
        };
      case 'webhook': {
        const secret = need('LATCHKEY_SMS_WEBHOOK_SECRET', s.LATCHKEY_SMS_WEBHOOK_SECRET);
        if (secret && secret.length < 32) problems.push('LATCHKEY_SMS_WEBHOOK_SECRET: must be at least 32 characters');
        return { kind, url: need('LATCHKEY_SMS_WEBHOOK_URL', s.LATCHKEY_SMS_WEBHOOK_URL), secret };
      }
      default:
        return { kind: 'none' };
    }
  })();
  return {
    gateway,
    from: s.LATCHKEY_SMS_FROM,
    brandSender: s.LATCHKEY_SMS_BRAND_SENDER,
    timeoutMs: s.LATCHKEY_SMS_TIMEOUT,
    allowedCallingCodes: (s.LATCHKEY_SMS_ALLOWED_COUNTRIES ?? []).map((c) => c.replace(/^\+/, '')),
    budget: s.LATCHKEY_SMS_BUDGET,
  };
}
