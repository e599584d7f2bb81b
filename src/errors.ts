import { t } from './i18n/translate.ts';

// One mapping for every domain error: the API turns it into RFC 9457 problem details, the pages
// into a message. The same wrong input gives the same answer on both faces.

export type ErrorCode =
  | 'validation_failed'
  | 'invalid_json'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'uri_too_long'
  | 'headers_too_large'
  | 'request_timeout'
  | 'invalid_credentials'
  | 'unauthorized'
  | 'reauthentication_required'
  | 'forbidden'
  | 'staff_second_factor_required'
  | 'csrf_rejected'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'captcha_required'
  | 'captcha_invalid'
  | 'password_rejected'
  | 'invalid_token'
  | 'invalid_code'
  | 'current_password_wrong'
  | 'last_sign_in_method'
  | 'provider_error'
  | 'passkey_failed'
  | 'service_unavailable'
  | 'internal_error';

const STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  invalid_json: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  uri_too_long: 414,
  headers_too_large: 431,
  request_timeout: 408,
  invalid_credentials: 401,
  unauthorized: 401,
  reauthentication_required: 401,
  forbidden: 403,
  staff_second_factor_required: 403,
  csrf_rejected: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  captcha_required: 400,
  captcha_invalid: 400,
  password_rejected: 400,
  invalid_token: 400,
  invalid_code: 400,
  current_password_wrong: 400,
  last_sign_in_method: 409,
  provider_error: 502,
  passkey_failed: 400,
  service_unavailable: 503,
  internal_error: 500,
};

/** Each code's title, a catalog key (src/web/messages/errors.*.json): said in the reader's language. */
const TITLE: Record<ErrorCode, string> = {
  validation_failed: 'web.error.validation_failed',
  invalid_json: 'web.error.invalid_json',
  payload_too_large: 'web.error.payload_too_large',
  unsupported_media_type: 'web.error.unsupported_media_type',
  uri_too_long: 'web.error.uri_too_long',
  headers_too_large: 'web.error.headers_too_large',
  request_timeout: 'web.error.request_timeout',
  invalid_credentials: 'web.error.invalid_credentials',
  unauthorized: 'web.error.unauthorized',
  reauthentication_required: 'web.error.reauthentication_required',
  forbidden: 'web.error.forbidden',
  staff_second_factor_required: 'web.error.staff_second_factor_required',
  csrf_rejected: 'web.error.csrf_rejected',
  not_found: 'web.error.not_found',
  conflict: 'web.error.conflict',
  rate_limited: 'web.error.rate_limited',
  captcha_required: 'web.error.captcha_required',
  captcha_invalid: 'web.error.captcha_invalid',
  password_rejected: 'web.error.password_rejected',
  invalid_token: 'web.error.invalid_token',
  invalid_code: 'web.error.invalid_code',
  current_password_wrong: 'web.error.current_password_wrong',
  last_sign_in_method: 'web.error.last_sign_in_method',
  provider_error: 'web.error.provider_error',
  passkey_failed: 'web.error.passkey_failed',
  service_unavailable: 'web.error.service_unavailable',
  internal_error: 'web.error.internal_error',
};

export interface FieldProblem {
  field: string;
  message: string;
  code?: string;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly extra: {
      fields?: FieldProblem[];
      retryAfter?: number;
      reasons?: { code: string; message: string }[];
    } = {},
  ) {
    super(detail ?? t(TITLE[code]));
    this.name = 'AppError';
    this.status = STATUS[code];
  }
  get title(): string {
    return t(TITLE[this.code]);
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  errors?: FieldProblem[];
  reasons?: { code: string; message: string }[];
}

export function toProblem(err: AppError): Problem {
  const p: Problem = { type: `urn:latchkey:problem:${err.code}`, title: err.title, status: err.status, code: err.code };
  if (err.detail) p.detail = err.detail;
  if (err.extra.fields?.length) p.errors = err.extra.fields;
  if (err.extra.reasons?.length) p.reasons = err.extra.reasons;
  return p;
}

/** The human message a page shows for an error. */
export function pageMessage(err: AppError): string {
  if (err.extra.reasons?.length) return err.extra.reasons.map((r) => r.message).join(' ');
  if (err.extra.fields?.length) return err.extra.fields.map((f) => f.message).join(' ');
  return err.detail ?? err.title;
}

export const problemTitle = (code: ErrorCode) => t(TITLE[code]);
export const problemStatus = (code: ErrorCode) => STATUS[code];
