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
  service_unavailable: 503,
  internal_error: 500,
};

const TITLE: Record<ErrorCode, string> = {
  validation_failed: 'Some fields are missing or invalid.',
  invalid_json: 'The request body is not valid JSON.',
  payload_too_large: 'The request is too large.',
  unsupported_media_type: 'Unsupported content type.',
  uri_too_long: 'The request address is too long.',
  headers_too_large: 'The request headers are too large.',
  request_timeout: 'The request took too long to arrive.',
  invalid_credentials: 'Incorrect username, email or password.',
  unauthorized: 'You need to sign in.',
  reauthentication_required: 'Please sign in again to confirm it is you.',
  forbidden: 'You are not allowed to do this.',
  staff_second_factor_required:
    'The staff console needs a sign-in with a second factor: set one up in your settings, then sign in again with it.',
  csrf_rejected: 'This request came from another site and was refused.',
  not_found: 'Not found.',
  conflict: 'This conflicts with the current state.',
  rate_limited: 'Too many attempts. Please wait and try again.',
  captcha_required: 'Please complete the CAPTCHA.',
  captcha_invalid: 'The CAPTCHA could not be verified. Please try again.',
  password_rejected: 'Please choose a different password.',
  invalid_token: 'This link has expired or was already used.',
  invalid_code: 'Invalid or expired code.',
  current_password_wrong: 'Your current password is not correct.',
  last_sign_in_method: 'You cannot remove your only way to sign in.',
  provider_error: 'The external provider could not complete the sign-in.',
  service_unavailable: 'The service is briefly unavailable. Please try again in a moment.',
  internal_error: 'Something went wrong on our side.',
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
    super(detail ?? TITLE[code]);
    this.name = 'AppError';
    this.status = STATUS[code];
  }
  get title(): string {
    return TITLE[this.code];
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

export const problemTitle = (code: ErrorCode) => TITLE[code];
export const problemStatus = (code: ErrorCode) => STATUS[code];
