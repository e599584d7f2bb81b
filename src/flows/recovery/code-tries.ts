import { type AppError, pageMessage } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import { field } from '../../web/request.ts';
import { MAX_CODE_ATTEMPTS } from './method.ts';

/**
 * The page's count of wrong codes typed in this form (issue 17, defect 8). It is carried in the
 * form, not read from the code's row: the server's answer stays the same for every identifier
 * (ENUM-04), while the person typing sees how many tries are left and, once the code is used up,
 * is told so and offered a new one. The server still enforces the real limit (REC-06).
 */
export function triesFrom(body: unknown): number {
  const n = Number(field(body, 'tries', 3));
  return Number.isInteger(n) && n >= 0 && n <= MAX_CODE_ATTEMPTS ? n : 0;
}

export interface CodeErrorView {
  message: string;
  tries: number;
  /** only the new password was refused: the code and identifier stay in the form */
  passwordOnly: boolean;
  usedUp: boolean;
}

/** What a code page says about an error, and the tries count it carries on. */
export function codeErrorView(err: AppError, tries: number): CodeErrorView {
  if (err.code === 'invalid_code') {
    const taken = Math.min(MAX_CODE_ATTEMPTS, tries + 1);
    const left = MAX_CODE_ATTEMPTS - taken;
    const message =
      left > 0 ? t('recovery.code_wrong', { left }) : t('recovery.code_used_up', { max: MAX_CODE_ATTEMPTS });
    return { message, tries: taken, passwordOnly: false, usedUp: left <= 0 };
  }
  const passwordOnly =
    err.code === 'password_rejected' ||
    (err.code === 'validation_failed' &&
      (err.extra.fields ?? []).length > 0 &&
      (err.extra.fields ?? []).every((f) => f.field === 'password' || f.field === 'passwordConfirm'));
  return { message: pageMessage(err), tries, passwordOnly, usedUp: false };
}
