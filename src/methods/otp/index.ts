import { MAX_CODE_ATTEMPTS, type RecoveryMethodDeps } from '../../flows/recovery/method.ts';
import { t } from '../../i18n/index.ts';
import type { JobRunner, RouteRegistrar, SettingBound } from '../registry.ts';
import { registerOtpApi } from './api.ts';
import { registerOtpPages } from './pages.tsx';
import { RESEND_JOB, runResend } from './resend.ts';

// Not a method: what every code method (email-otp, sms-otp, …) lists besides its own delivery.
// The registry registers a shared route or job once, however many methods list it.

/**
 * One code length, one attempt limit and one resend limit for all code methods of an
 * organization. Bounds: codes of 6+ digits (OTP-01), dead after at most 5 wrong tries (REC-06).
 */
export const OTP_SETTINGS = {
  // Labels are getters: read while a page is rendered, in its language.
  otpLength: {
    min: 6,
    max: 10,
    default: 6,
    get label() {
      return t('otp.setting_length');
    },
  },
  maxAttempts: {
    min: 1,
    max: MAX_CODE_ATTEMPTS,
    default: MAX_CODE_ATTEMPTS,
    get label() {
      return t('otp.setting_attempts');
    },
  },
  maxResends: {
    min: 0,
    max: 10,
    default: 3,
    get label() {
      return t('otp.setting_resends');
    },
  },
} satisfies Record<string, SettingBound>;

/** The code page (/forgot-password/code, /forgot-password/resend) and the resend API. */
export const OTP_ROUTES: readonly RouteRegistrar<RecoveryMethodDeps>[] = [registerOtpApi, registerOtpPages];

/** "Resend code" runs as a job (ENUM-02). */
export const OTP_JOBS: Readonly<Record<string, JobRunner<RecoveryMethodDeps>>> = { [RESEND_JOB]: runResend };
