// The one configuration schema. Every setting is a LATCHKEY_* environment variable (or the same
// key in the optional JSON file named by LATCHKEY_CONFIG_FILE). The README's table is generated
// from this list (`npm run docs:config`), so a setting documented here is a setting that exists.

export type SettingKind = 'string' | 'int' | 'bool' | 'duration' | 'enum' | 'url' | 'list' | 'secret';

export interface Setting {
  env: string;
  kind: SettingKind;
  default?: string;
  /** for enum */
  values?: readonly string[];
  /** for int and duration (seconds for duration) */
  min?: number;
  max?: number;
  doc: string;
  group: string;
}

const s = (env: string, kind: SettingKind, def: string | undefined, doc: string, extra: Partial<Setting> = {}) =>
  ({ env, kind, default: def, doc, group: extra.group ?? 'general', ...extra }) satisfies Setting;

export const SETTINGS = [
  // --- general (names fixed by shared/DESIGN.md)
  s('LATCHKEY_ENV', 'enum', 'development', '`production` requires SMTP and disables `/dev/mailbox`', {
    values: ['development', 'production'],
  }),
  s('LATCHKEY_HOST', 'string', '127.0.0.1', 'address to listen on'),
  s('LATCHKEY_PORT', 'int', '3000', 'port to listen on (0 picks a free one)', { min: 0, max: 65535 }),
  s('LATCHKEY_PUBLIC_URL', 'url', undefined, 'the origin used in every link and the CSRF origin check (default `http://localhost:{port}`)'),
  s('LATCHKEY_DATABASE_URL', 'string', './data/latchkey.db', 'an SQLite file path, or `postgres://…`'),
  s('LATCHKEY_REDIS_URL', 'url', undefined, 'Redis for counters shared across processes (rate limits, lockouts)'),
  s('LATCHKEY_SMTP_URL', 'url', undefined, 'outgoing mail server, e.g. `smtp://user:pass@mail:587` or `smtps://…`'),
  s('LATCHKEY_MAIL_FROM', 'string', 'Latchkey <no-reply@localhost>', 'sender of every mail'),
  s('LATCHKEY_CAPTCHA', 'enum', 'altcha', 'CAPTCHA provider', {
    values: ['altcha', 'turnstile', 'hcaptcha', 'recaptcha', 'off'],
    group: 'abuse',
  }),
  s('LATCHKEY_RESET_TTL', 'duration', '30m', 'lifetime of reset links and codes', { min: 1, max: 86400, group: 'recovery' }),
  s('LATCHKEY_TRUSTED_PROXIES', 'list', undefined, "comma-separated proxy addresses/CIDRs whose `X-Forwarded-For` is believed"),
  s('LATCHKEY_LOG_LEVEL', 'enum', 'info', 'pino log level', {
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  }),
  s('LATCHKEY_CONFIG_FILE', 'string', undefined, 'optional JSON file with the same keys; environment variables win'),
  s('LATCHKEY_SECRET', 'secret', undefined, 'server key for signed cookies and keyed code hashes (>= 32 chars). Default: generated once and kept in the database, so every process on one database shares it'),
  s('LATCHKEY_PRODUCT_NAME', 'string', 'Latchkey', 'product name shown on pages and in mails'),
  s('LATCHKEY_SUPPORT_CONTACT', 'string', 'your administrator', 'support contact shown in mails and pages'),
  s('LATCHKEY_BODY_LIMIT', 'int', '65536', 'largest accepted request body, bytes', { min: 1024, max: 10485760 }),

  // --- passwords
  s('LATCHKEY_PASSWORD_MIN_LENGTH', 'int', '8', 'shortest accepted password, in code points (PWD-01)', {
    min: 8,
    max: 128,
    group: 'passwords',
  }),
  s('LATCHKEY_PASSWORD_MAX_LENGTH', 'int', '256', 'longest accepted password, in code points (PWD-02)', {
    min: 64,
    max: 1024,
    group: 'passwords',
  }),
  s('LATCHKEY_PASSWORD_MIN_SCORE', 'int', '3', 'minimum zxcvbn score 0-4 (PWD-04)', { min: 0, max: 4, group: 'passwords' }),
  s('LATCHKEY_ARGON2_MEMORY', 'int', '19456', 'argon2id memory cost, KiB (PWD-07)', { min: 19456, max: 4194304, group: 'passwords' }),
  s('LATCHKEY_ARGON2_TIME', 'int', '2', 'argon2id iterations (PWD-07)', { min: 2, max: 20, group: 'passwords' }),

  // --- sessions
  s('LATCHKEY_SESSION_IDLE_TTL', 'duration', '12h', 'a session unused this long ends (SES-05)', {
    min: 1,
    max: 31536000,
    group: 'sessions',
  }),
  s('LATCHKEY_SESSION_ABSOLUTE_TTL', 'duration', '7d', 'a session ends this long after sign-in, used or not (SES-05)', {
    min: 1,
    max: 31536000,
    group: 'sessions',
  }),
  s('LATCHKEY_REAUTH_WINDOW', 'duration', '10m', 'how recent a sign-in must be for sensitive changes (SES-07)', {
    min: 1,
    max: 86400,
    group: 'sessions',
  }),
  s('LATCHKEY_ACTIVATION_TTL', 'duration', '24h', 'lifetime of activation links and codes', {
    min: 1,
    max: 604800,
    group: 'registration',
  }),

  // --- delivery
  s('LATCHKEY_OUTBOX_POLL', 'duration', '1s', 'how often the delivery worker looks for due messages', {
    min: 0,
    max: 3600,
    group: 'delivery',
  }),
  s('LATCHKEY_OUTBOX_MAX_ATTEMPTS', 'int', '25', 'delivery attempts before a message is given up (with backoff up to 1 h apart)', {
    min: 1,
    max: 1000,
    group: 'delivery',
  }),
  s('LATCHKEY_OUTBOX_BACKOFF_BASE', 'duration', '2s', 'first retry delay; doubles each attempt up to 1 h', {
    min: 0,
    max: 3600,
    group: 'delivery',
  }),
  s('LATCHKEY_SMTP_TIMEOUT', 'duration', '30s', 'SMTP connection/greeting/socket timeout', { min: 1, max: 600, group: 'delivery' }),
] as const satisfies readonly Setting[];

export type SettingName = (typeof SETTINGS)[number]['env'];
