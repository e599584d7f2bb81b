import { AppError, type FieldProblem } from '../../errors.ts';

// Per-organization recovery settings, stored as JSON in organizations.recovery_settings.
// Bounds come from SECURITY.md: links at most 24 h (REC-02), email/SMS codes at most 10 min
// (OTP-02), codes of 6+ digits (OTP-01), dead after at most 5 wrong tries (REC-06).

export const RECOVERY_METHOD_IDS = ['email_link', 'email_otp', 'sms_otp'] as const;
export type RecoveryMethodId = (typeof RECOVERY_METHOD_IDS)[number];

export interface RecoverySettings {
  methods: RecoveryMethodId[];
  /** lifetimes in seconds */
  emailLinkTtl: number;
  emailOtpTtl: number;
  smsOtpTtl: number;
  otpLength: number;
  maxAttempts: number;
  maxResends: number;
}

export const DEFAULT_RECOVERY_SETTINGS: RecoverySettings = {
  methods: ['email_link'],
  emailLinkTtl: 1800,
  emailOtpTtl: 600,
  smsOtpTtl: 600,
  otpLength: 6,
  maxAttempts: 5,
  maxResends: 3,
};

export const BOUNDS: Record<Exclude<keyof RecoverySettings, 'methods'>, { min: number; max: number; label: string }> = {
  emailLinkTtl: { min: 60, max: 86_400, label: 'Email link lifetime (seconds)' },
  emailOtpTtl: { min: 60, max: 600, label: 'Email code lifetime (seconds)' },
  smsOtpTtl: { min: 60, max: 600, label: 'SMS code lifetime (seconds)' },
  otpLength: { min: 6, max: 10, label: 'Code length (digits)' },
  maxAttempts: { min: 1, max: 5, label: 'Wrong tries before a code dies' },
  maxResends: { min: 0, max: 10, label: 'Resends per request' },
};

export const METHOD_LABELS: Record<RecoveryMethodId, string> = {
  email_link: 'Email me a link',
  email_otp: 'Email me a code',
  sms_otp: 'Text me a code',
};

/** Reads stored JSON leniently: anything missing or out of bounds falls back to the default. */
export function parseStoredSettings(json: string | null | undefined, defaults: RecoverySettings = DEFAULT_RECOVERY_SETTINGS): RecoverySettings {
  let raw: Record<string, unknown> = {};
  try {
    const v = JSON.parse(json ?? '{}');
    if (v && typeof v === 'object') raw = v;
  } catch {}
  const out: RecoverySettings = { ...defaults };
  if (Array.isArray(raw.methods)) {
    const m = RECOVERY_METHOD_IDS.filter((id) => (raw.methods as unknown[]).includes(id));
    if (m.length) out.methods = m;
  }
  for (const [k, b] of Object.entries(BOUNDS) as [keyof typeof BOUNDS, (typeof BOUNDS)[keyof typeof BOUNDS]][]) {
    const v = raw[k];
    if (typeof v === 'number' && Number.isInteger(v) && v >= b.min && v <= b.max) out[k] = v;
  }
  return out;
}

/**
 * Validates a full or partial update strictly (unlike stored JSON): a bad value is a 400 naming
 * the field, and nothing is saved. Missing fields keep their current value.
 */
export function validateSettings(current: RecoverySettings, input: unknown): RecoverySettings {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new AppError('validation_failed', 'Send a JSON object.');
  const i = input as Record<string, unknown>;
  const fields: FieldProblem[] = [];
  const next: RecoverySettings = { ...current };
  if (i.methods !== undefined) {
    if (!Array.isArray(i.methods) || i.methods.some((m) => typeof m !== 'string' || !RECOVERY_METHOD_IDS.includes(m as RecoveryMethodId)))
      fields.push({ field: 'methods', code: 'invalid', message: `Methods must be among ${RECOVERY_METHOD_IDS.join(', ')}.` });
    else if (i.methods.length === 0) fields.push({ field: 'methods', code: 'required', message: 'Enable at least one recovery method.' });
    else next.methods = RECOVERY_METHOD_IDS.filter((id) => (i.methods as string[]).includes(id));
  }
  for (const [k, b] of Object.entries(BOUNDS) as [keyof typeof BOUNDS, (typeof BOUNDS)[keyof typeof BOUNDS]][]) {
    const v = i[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < b.min || v > b.max)
      fields.push({ field: k, code: 'out_of_range', message: `${b.label} must be a whole number from ${b.min} to ${b.max}.` });
    else next[k] = v;
  }
  const unknown = Object.keys(i).filter((k) => k !== 'methods' && !(k in BOUNDS));
  for (const k of unknown) fields.push({ field: k.slice(0, 64), code: 'unknown', message: 'Unknown setting.' });
  if (fields.length) throw new AppError('validation_failed', undefined, { fields });
  return next;
}
