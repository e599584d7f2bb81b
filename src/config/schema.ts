// The one configuration schema. Every setting is a LATCHKEY_* environment variable (or the same
// key in the optional JSON file named by LATCHKEY_CONFIG_FILE). The README's table is generated
// from this list (`npm run docs:config`), so a setting documented here is a setting that exists.

export type SettingKind = 'string' | 'int' | 'bool' | 'duration' | 'enum' | 'url' | 'list' | 'secret' | 'rate';

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

// Generic over name, kind, default and extras (`const`), so SETTINGS keeps them as literal types:
// the typed settings map (src/config/load.ts) is derived from this list, not written again.
function s<
  const E extends string,
  const K extends SettingKind,
  const D extends string | undefined,
  const X extends Partial<Setting> = { group?: string },
>(env: E, kind: K, def: D, doc: string, extra?: X) {
  return { env, kind, default: def, doc, group: extra?.group ?? 'general', ...extra } as {
    env: E;
    kind: K;
    default: D;
    doc: string;
    group: string;
  } & X;
}

export const SETTINGS = [
  // --- general (names fixed by shared/DESIGN.md)
  s('LATCHKEY_ENV', 'enum', 'development', '`production` requires SMTP and disables `/dev/mailbox`', {
    values: ['development', 'production'],
  }),
  s('LATCHKEY_HOST', 'string', '127.0.0.1', 'address to listen on'),
  s('LATCHKEY_PORT', 'int', '3000', 'port to listen on (0 picks a free one)', { min: 0, max: 65535 }),
  s(
    'LATCHKEY_PUBLIC_URL',
    'url',
    undefined,
    'the origin used in every link and the CSRF origin check (default `http://localhost:{port}`)',
  ),
  s('LATCHKEY_DATABASE_URL', 'string', './data/latchkey.db', 'an SQLite file path, or `postgres://…`'),
  s('LATCHKEY_REDIS_URL', 'url', undefined, 'Redis for counters shared across processes (rate limits, lockouts)'),
  s('LATCHKEY_SMTP_URL', 'url', undefined, 'outgoing mail server, e.g. `smtp://user:pass@mail:587` or `smtps://…`'),
  s('LATCHKEY_MAIL_FROM', 'string', 'Latchkey <no-reply@localhost>', 'sender of every mail'),
  s('LATCHKEY_CAPTCHA', 'enum', 'altcha', 'CAPTCHA provider', {
    values: ['altcha', 'turnstile', 'hcaptcha', 'recaptcha', 'off'],
    group: 'abuse',
  }),
  s('LATCHKEY_RESET_TTL', 'duration', '30m', 'lifetime of reset links and codes', {
    min: 1,
    max: 86400,
    group: 'recovery',
  }),
  s(
    'LATCHKEY_TRUSTED_PROXIES',
    'list',
    undefined,
    'comma-separated proxy addresses/CIDRs whose `X-Forwarded-For` is believed',
  ),
  s('LATCHKEY_LOG_LEVEL', 'enum', 'info', 'pino log level', {
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  }),
  s('LATCHKEY_CONFIG_FILE', 'string', undefined, 'optional JSON file with the same keys; environment variables win'),
  s(
    'LATCHKEY_SECRET',
    'secret',
    undefined,
    'server key for signed cookies and keyed code hashes (>= 32 chars). Default: generated once and kept in the database, so every process on one database shares it',
  ),
  s(
    'LATCHKEY_LOCALES',
    'list',
    undefined,
    'languages offered, from `en,de,fr,es,pt-BR,ar` (default: all of them); the picker lists them in this order',
    { group: 'brand' },
  ),
  s(
    'LATCHKEY_DEFAULT_LOCALE',
    'string',
    'en',
    'the language when neither the account, the browser nor the organization picks one of LATCHKEY_LOCALES',
    { group: 'brand' },
  ),
  s('LATCHKEY_PRODUCT_NAME', 'string', 'Latchkey', 'product name shown on pages and in mails'),
  s('LATCHKEY_SUPPORT_CONTACT', 'string', 'your administrator', 'support contact shown in mails and pages'),
  s('LATCHKEY_SUPPORT_URL', 'url', undefined, 'a support page linked from mails and pages (brand)', { group: 'brand' }),
  s('LATCHKEY_SUPPORT_EMAIL', 'string', undefined, 'a support address shown in mails and pages (brand)', {
    group: 'brand',
  }),
  s(
    'LATCHKEY_BRAND_COLOR',
    'string',
    '#1f5fbf',
    'primary colour (`#rrggbb`) of buttons and links; must reach 4.5:1 against white (checked at start)',
    { group: 'brand' },
  ),
  s(
    'LATCHKEY_BRAND_COLOR_DARK',
    'string',
    '#79b8ff',
    'primary colour in dark mode; must reach 4.5:1 against the dark background (checked at start)',
    { group: 'brand' },
  ),
  s('LATCHKEY_BODY_LIMIT', 'int', '65536', 'largest accepted request body, bytes', { min: 1024, max: 10485760 }),
  // WEB-06, ENUM-04: what production exposes (docs/operations.md says how to scrape metrics).
  s(
    'LATCHKEY_ALLOW_HTTP',
    'bool',
    'false',
    'let production run with an `http://` public URL (only behind a TLS-terminating proxy on the same host; cookies lose `Secure` and HSTS is off) (WEB-06)',
  ),
  s(
    'LATCHKEY_METRICS_TOKEN',
    'secret',
    undefined,
    'bearer token `/metrics` requires (>= 32 chars); without it, and without LATCHKEY_METRICS_ADDRESS, metrics are off in production (ENUM-04)',
  ),
  s(
    'LATCHKEY_METRICS_ADDRESS',
    'string',
    undefined,
    'a separate `host:port` listener that serves only `/metrics`; the main port then serves none (ENUM-04)',
  ),
  s(
    'LATCHKEY_API_DOCS',
    'enum',
    undefined,
    'the Swagger UI at `/docs` (`/api/openapi.json` is always served). Default: `on` in development, `off` in production',
    {
      values: ['on', 'off'],
    },
  ),

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
  s('LATCHKEY_PASSWORD_MIN_SCORE', 'int', '3', 'minimum zxcvbn score 0-4 (PWD-04)', {
    min: 0,
    max: 4,
    group: 'passwords',
  }),
  s('LATCHKEY_ARGON2_MEMORY', 'int', '19456', 'argon2id memory cost, KiB (PWD-07)', {
    min: 19456,
    max: 4194304,
    group: 'passwords',
  }),
  s('LATCHKEY_ARGON2_TIME', 'int', '2', 'argon2id iterations (PWD-07)', { min: 2, max: 20, group: 'passwords' }),
  s(
    'LATCHKEY_ARGON2_THREADS',
    'int',
    undefined,
    'threads that compute password hashes, each with LATCHKEY_ARGON2_MEMORY while it works; more hashes wait their turn. Default: one per CPU',
    { min: 1, max: 1024, group: 'passwords' },
  ),

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
  // --- QR sign-in (src/flows/qr; QR-01..QR-09)
  s('LATCHKEY_QR_LOGIN', 'enum', 'on', '`off` hides QR sign-in everywhere (organizations can also turn it off)', {
    values: ['on', 'off'],
    group: 'qr',
  }),
  s('LATCHKEY_QR_TTL', 'duration', '2m', 'lifetime of a QR sign-in request (QR-01: at most 2 minutes)', {
    min: 10,
    max: 120,
    group: 'qr',
  }),
  s(
    'LATCHKEY_QR_ROTATE',
    'duration',
    '60s',
    'a QR code and typed code not yet opened on a phone are replaced this often',
    {
      min: 5,
      max: 120,
      group: 'qr',
    },
  ),
  s(
    'LATCHKEY_QR_POLL_INTERVAL',
    'duration',
    '2s',
    'how often the waiting browser asks (RFC 8628 `interval`; faster gets `slow_down`)',
    {
      min: 1,
      max: 30,
      group: 'qr',
    },
  ),
  s('LATCHKEY_REAUTH_WINDOW', 'duration', '10m', 'how recent a sign-in must be for sensitive changes (SES-07)', {
    min: 1,
    max: 86400,
    group: 'sessions',
  }),
  // --- second factors
  s(
    'LATCHKEY_MFA_PENDING_TTL',
    'duration',
    '5m',
    'how long a half-finished sign-in (password right, second factor pending) may wait (MFA-07)',
    { min: 1, max: 300, group: 'second factors' },
  ),
  s('LATCHKEY_MFA_ATTEMPTS', 'rate', '5/5m', 'second-factor attempts per account, on every process (MFA-03)', {
    group: 'second factors',
  }),
  s(
    'LATCHKEY_MFA_REMEMBER_TTL',
    'duration',
    '30d',
    '"don\'t ask again on this browser": how long a browser skips the second factor',
    { min: 1, max: 31536000, group: 'second factors' },
  ),
  s(
    'LATCHKEY_DELETION_GRACE',
    'duration',
    '7d',
    'how long a self-service account deletion waits before the data is removed; signing in meanwhile cancels it',
    { min: 1, max: 31536000, group: 'sessions' },
  ),
  // --- passkeys (MFA-04)
  s(
    'LATCHKEY_WEBAUTHN_RP_ID',
    'string',
    undefined,
    "passkey relying-party id: the public URL's host or a registrable suffix of it (default: the host of LATCHKEY_PUBLIC_URL). Changing it orphans every passkey already registered",
    { group: 'second factors' },
  ),
  s('LATCHKEY_WEBAUTHN_CHALLENGE_TTL', 'duration', '5m', 'lifetime of a passkey challenge (single use) (MFA-04)', {
    min: 1,
    max: 3600,
    group: 'second factors',
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
  s(
    'LATCHKEY_OUTBOX_MAX_ATTEMPTS',
    'int',
    '25',
    'delivery attempts before a message is given up (with backoff up to 1 h apart)',
    {
      min: 1,
      max: 1000,
      group: 'delivery',
    },
  ),
  s('LATCHKEY_OUTBOX_BACKOFF_BASE', 'duration', '2s', 'first retry delay; doubles each attempt up to 1 h', {
    min: 0,
    max: 3600,
    group: 'delivery',
  }),
  s('LATCHKEY_SMTP_TIMEOUT', 'duration', '30s', 'SMTP connection/greeting/socket timeout', {
    min: 1,
    max: 600,
    group: 'delivery',
  }),

  // --- timeouts and availability (AV-01, AV-02): nothing waits on a dead or frozen dependency or
  // on a slow client for ever; an unavailable dependency answers 503 with Retry-After.
  s('LATCHKEY_DB_POOL_SIZE', 'int', '10', 'PostgreSQL connections per process', {
    min: 1,
    max: 1000,
    group: 'availability',
  }),
  s(
    'LATCHKEY_DB_CONNECT_TIMEOUT',
    'duration',
    '5s',
    'PostgreSQL: longest wait for a new connection, or for a free one from the pool',
    {
      min: 1,
      max: 300,
      group: 'availability',
    },
  ),
  s(
    'LATCHKEY_DB_STATEMENT_TIMEOUT',
    'duration',
    '10s',
    'PostgreSQL: longest a statement may run (the server cancels it); a server that does not answer at all is given up 1 s later and the connection discarded. Migrations are exempt',
    { min: 1, max: 3600, group: 'availability' },
  ),
  s(
    'LATCHKEY_DB_IDLE_TIMEOUT',
    'duration',
    '30s',
    'PostgreSQL: an unused pooled connection is closed after this long',
    {
      min: 1,
      max: 86400,
      group: 'availability',
    },
  ),
  s(
    'LATCHKEY_DB_BUSY_TIMEOUT',
    'duration',
    '5s',
    "SQLite: longest wait for another connection's lock before the request answers 503",
    {
      min: 1,
      max: 300,
      group: 'availability',
    },
  ),
  s(
    'LATCHKEY_REDIS_TIMEOUT',
    'duration',
    '2s',
    'Redis connect and command timeout; counters fall back to this process meanwhile',
    {
      min: 1,
      max: 60,
      group: 'availability',
    },
  ),
  s(
    'LATCHKEY_REQUEST_TIMEOUT',
    'duration',
    '30s',
    'longest time to receive a whole request, headers and body; a slower client gets 408 and is disconnected',
    {
      min: 1,
      max: 600,
      group: 'availability',
    },
  ),
  s(
    'LATCHKEY_HEADERS_TIMEOUT',
    'duration',
    undefined,
    "longest time to receive a request's headers (at most, and by default, LATCHKEY_REQUEST_TIMEOUT)",
    {
      min: 1,
      max: 600,
      group: 'availability',
    },
  ),

  // --- abuse protection (src/security/limits.ts, src/security/captcha/). Limits are `N/window`:
  // at most N attempts per window, counted separately per client IP and per account identifier.
  s(
    'LATCHKEY_REDIS_PREFIX',
    'string',
    'latchkey',
    'key prefix for counters in Redis (several deployments can share one Redis)',
    { group: 'abuse' },
  ),
  s(
    'LATCHKEY_RATE_LIMIT_SCALE',
    'int',
    '1',
    'multiplies every rate limit and sign-in threshold (test servers use 1000; never raise it in production)',
    {
      min: 1,
      max: 1000000,
      group: 'abuse',
    },
  ),
  s('LATCHKEY_LIMIT_SIGN_IN_IP', 'rate', '100/10m', 'sign-in attempts per client IP (BF-02)', { group: 'abuse' }),
  s('LATCHKEY_LIMIT_REGISTRATION_IP', 'rate', '10/1h', 'registrations per client IP', { group: 'abuse' }),
  s('LATCHKEY_LIMIT_REGISTRATION_ID', 'rate', '5/1h', 'registration attempts per email address', { group: 'abuse' }),
  s('LATCHKEY_LIMIT_ACTIVATION_IP', 'rate', '30/10m', 'activation attempts per client IP', { group: 'abuse' }),
  s('LATCHKEY_LIMIT_ACTIVATION_ID', 'rate', '10/10m', 'activation attempts per identifier', { group: 'abuse' }),
  s('LATCHKEY_LIMIT_RESET_REQUEST_IP', 'rate', '20/10m', 'password reset requests per client IP', { group: 'abuse' }),
  s(
    'LATCHKEY_LIMIT_RESET_REQUEST_ID',
    'rate',
    '60/1h',
    'password reset requests per identifier (mails are capped separately, REC-06)',
    { group: 'abuse' },
  ),
  s('LATCHKEY_LIMIT_SUPPORT_REQUEST_IP', 'rate', '5/1h', 'support requests per client IP (ADM-08)', { group: 'abuse' }),
  s(
    'LATCHKEY_LIMIT_SUPPORT_REQUEST_CONTACT',
    'rate',
    '3/24h',
    'support requests per contact address: each one mails that address (ADM-08)',
    { group: 'abuse' },
  ),
  s('LATCHKEY_LIMIT_RESET_COMPLETE_IP', 'rate', '30/10m', 'reset completions (link or code) per client IP', {
    group: 'abuse',
  }),
  s('LATCHKEY_LIMIT_RESET_COMPLETE_ID', 'rate', '10/10m', 'reset completions per identifier', { group: 'abuse' }),
  s('LATCHKEY_LIMIT_OTP_SEND_IP', 'rate', '20/1h', 'one-time code sends per client IP (OTP-05)', { group: 'abuse' }),
  s('LATCHKEY_LIMIT_OTP_SEND_ID', 'rate', '5/1h', 'one-time code sends per account or number (OTP-05)', {
    group: 'abuse',
  }),
  s('LATCHKEY_LIMIT_OTP_VERIFY_IP', 'rate', '30/10m', 'one-time code checks per client IP (OTP-04)', {
    group: 'abuse',
  }),
  s('LATCHKEY_LIMIT_OTP_VERIFY_ID', 'rate', '10/10m', 'one-time code checks per account (OTP-04)', { group: 'abuse' }),
  s('LATCHKEY_LIMIT_SECOND_FACTOR_IP', 'rate', '30/10m', 'second-factor attempts per client IP (MFA-03)', {
    group: 'abuse',
  }),
  s('LATCHKEY_LIMIT_PASSWORD_CHANGE_IP', 'rate', '20/10m', 'password changes per client IP (PWD-05)', {
    group: 'abuse',
  }),
  s('LATCHKEY_LIMIT_PROFILE_CHANGE_IP', 'rate', '20/1h', 'email and username changes per client IP (ID-03)', {
    group: 'abuse',
  }),
  s('LATCHKEY_LIMIT_PROFILE_CHANGE_ID', 'rate', '5/1h', 'email and username changes per account (ID-03)', {
    group: 'abuse',
  }),
  s(
    'LATCHKEY_LIMIT_PASSWORD_CHANGE_ID',
    'rate',
    '5/10m',
    'password changes (current password checks) per account (PWD-05)',
    { group: 'abuse' },
  ),
  s('LATCHKEY_LIMIT_QR_CREATE_IP', 'rate', '30/10m', 'QR sign-in requests started per client IP (QR-05)', {
    group: 'abuse',
  }),
  s('LATCHKEY_LIMIT_QR_APPROVE_IP', 'rate', '30/10m', 'QR sign-in look-ups and approvals per client IP (QR-05)', {
    group: 'abuse',
  }),
  s('LATCHKEY_LIMIT_QR_APPROVE_ID', 'rate', '10/10m', 'QR sign-in look-ups and approvals per account (QR-05)', {
    group: 'abuse',
  }),
  s(
    'LATCHKEY_RESET_MAIL_CAP',
    'rate',
    '5/1h',
    'reset mails per account; past it requests answer the same but send nothing (REC-06)',
    { group: 'abuse' },
  ),
  s(
    'LATCHKEY_OTP_MESSAGE_CAP',
    'rate',
    '5/1h',
    'code messages (SMS/email) per account or number; past it nothing is sent (OTP-05)',
    { group: 'abuse' },
  ),
  s(
    'LATCHKEY_SIGN_IN_CAPTCHA_AFTER',
    'int',
    '3',
    'sign-in attempts for an identifier (as typed) or from an IP after which a CAPTCHA is required (BF-04, ENUM-04)',
    {
      min: 1,
      max: 1000,
      group: 'abuse',
    },
  ),
  s(
    'LATCHKEY_LOCKOUT_AFTER',
    'int',
    '10',
    'consecutive failed sign-ins after which the account is locked for a while (BF-01)',
    {
      min: 1,
      max: 100,
      group: 'abuse',
    },
  ),
  s(
    'LATCHKEY_LOCKOUT_BASE',
    'duration',
    '1m',
    'first lockout; doubles with each further failure up to LATCHKEY_LOCKOUT_MAX',
    { min: 1, max: 86400, group: 'abuse' },
  ),
  s('LATCHKEY_LOCKOUT_MAX', 'duration', '1h', 'longest progressive lockout', { min: 1, max: 86400, group: 'abuse' }),
  s(
    'LATCHKEY_LOCKOUT_HARD_CAP',
    'int',
    '100',
    'consecutive failures after which the account stays locked until a password reset or LATCHKEY_LOCKOUT_MEMORY passes (BF-01)',
    {
      min: 2,
      max: 100,
      group: 'abuse',
    },
  ),
  s('LATCHKEY_LOCKOUT_MEMORY', 'duration', '24h', 'how long failed sign-ins are remembered without a success', {
    min: 60,
    max: 2592000,
    group: 'abuse',
  }),
  s(
    'LATCHKEY_IPV6_PREFIX',
    'int',
    '64',
    'IPv6 clients are rate-limited per network of this prefix length (one client usually holds a /64); IPv4 per address (BF-02)',
    {
      min: 32,
      max: 128,
      group: 'abuse',
    },
  ),
  s(
    'LATCHKEY_FLAG_RESETS',
    'rate',
    '3/24h',
    'more completed password resets/changes than this flags the account as possibly compromised (LOG-04)',
    { group: 'abuse' },
  ),
  s(
    'LATCHKEY_ALTCHA_MAX_NUMBER',
    'int',
    '50000',
    'ALTCHA difficulty: the proof-of-work needs up to this many SHA-256 steps (about a second in a browser at the default)',
    {
      min: 10,
      max: 10000000,
      group: 'abuse',
    },
  ),
  s('LATCHKEY_CAPTCHA_TTL', 'duration', '10m', 'how long a CAPTCHA challenge stays valid', {
    min: 5,
    max: 3600,
    group: 'abuse',
  }),
  s(
    'LATCHKEY_CAPTCHA_NOJS_WAIT',
    'duration',
    '15s',
    'without JavaScript the ALTCHA check is a wait: a form is accepted this long after the page was served',
    { min: 1, max: 600, group: 'abuse' },
  ),
  s('LATCHKEY_CAPTCHA_SITE_KEY', 'string', undefined, 'site key for turnstile, hcaptcha or recaptcha', {
    group: 'abuse',
  }),
  s('LATCHKEY_CAPTCHA_SECRET', 'secret', undefined, 'secret key for turnstile, hcaptcha or recaptcha', {
    group: 'abuse',
  }),
  s('LATCHKEY_CAPTCHA_VERIFY_URL', 'url', undefined, "siteverify endpoint (default: the provider's public one)", {
    group: 'abuse',
  }),
  s(
    'LATCHKEY_CAPTCHA_TIMEOUT',
    'duration',
    '5s',
    'siteverify timeout; a timeout counts as a failed CAPTCHA (fail closed)',
    { min: 1, max: 60, group: 'abuse' },
  ),
  s(
    'LATCHKEY_RECAPTCHA_MIN_SCORE',
    'string',
    '0.5',
    'reCAPTCHA v3: lowest accepted score (0.0-1.0); v2 answers carry no score and pass on success',
    { group: 'abuse' },
  ),
  s('LATCHKEY_RECAPTCHA_ACTION', 'string', undefined, 'reCAPTCHA v3: the expected action name, if any', {
    group: 'abuse',
  }),

  // --- external accounts (src/methods/external/). A provider is enabled when its client id and
  // secret are set. Endpoint overrides serve sovereign clouds, GitHub Enterprise and tests.
  // Generic OpenID Connect providers are the LATCHKEY_OIDC_<NAME>_* family (FAMILIES below).
  s(
    'LATCHKEY_RETURN_URL_ALLOWLIST',
    'list',
    undefined,
    'origins (besides the public URL) that sign-in may return to, e.g. `https://app.example.com` (EXT-07)',
    { group: 'external' },
  ),
  s('LATCHKEY_EXTERNAL_TIMEOUT', 'duration', '10s', 'timeout for each request to an external provider', {
    min: 1,
    max: 120,
    group: 'external',
  }),
  s('LATCHKEY_GOOGLE_CLIENT_ID', 'string', undefined, 'Google OAuth client id', { group: 'external' }),
  s('LATCHKEY_GOOGLE_CLIENT_SECRET', 'string', undefined, 'Google OAuth client secret', { group: 'external' }),
  s('LATCHKEY_GOOGLE_SCOPES', 'string', 'openid email profile', 'Google scopes', { group: 'external' }),
  s('LATCHKEY_GOOGLE_ISSUER', 'url', 'https://accounts.google.com', 'Google issuer (OpenID discovery)', {
    group: 'external',
  }),
  s('LATCHKEY_MICROSOFT_CLIENT_ID', 'string', undefined, 'Microsoft / Azure AD (Entra ID) application id', {
    group: 'external',
  }),
  s('LATCHKEY_MICROSOFT_CLIENT_SECRET', 'string', undefined, 'Microsoft / Azure AD client secret', {
    group: 'external',
  }),
  s('LATCHKEY_MICROSOFT_SCOPES', 'string', 'openid email profile', 'Microsoft scopes', { group: 'external' }),
  s(
    'LATCHKEY_MICROSOFT_TENANT',
    'string',
    'common',
    '`common` (personal and work/school), `organizations`, `consumers`, or an Azure AD tenant id/domain',
    { group: 'external' },
  ),
  s(
    'LATCHKEY_MICROSOFT_ISSUER',
    'url',
    undefined,
    'issuer override (sovereign clouds); default `https://login.microsoftonline.com/<tenant>/v2.0`',
    { group: 'external' },
  ),
  s(
    'LATCHKEY_MICROSOFT_DISPLAY_NAME',
    'string',
    'Microsoft',
    'button label, e.g. your company name for a single Azure AD tenant',
    { group: 'external' },
  ),
  s(
    'LATCHKEY_LINKEDIN_CLIENT_ID',
    'string',
    undefined,
    'LinkedIn (Sign In with LinkedIn using OpenID Connect) client id',
    { group: 'external' },
  ),
  s('LATCHKEY_LINKEDIN_CLIENT_SECRET', 'string', undefined, 'LinkedIn client secret', { group: 'external' }),
  s('LATCHKEY_LINKEDIN_SCOPES', 'string', 'openid email profile', 'LinkedIn scopes', { group: 'external' }),
  s('LATCHKEY_LINKEDIN_ISSUER', 'url', 'https://www.linkedin.com/oauth', 'LinkedIn issuer (OpenID discovery)', {
    group: 'external',
  }),
  s('LATCHKEY_GITHUB_CLIENT_ID', 'string', undefined, 'GitHub OAuth app client id', { group: 'external' }),
  s('LATCHKEY_GITHUB_CLIENT_SECRET', 'string', undefined, 'GitHub OAuth app client secret', { group: 'external' }),
  s('LATCHKEY_GITHUB_SCOPES', 'string', 'read:user user:email', 'GitHub scopes', { group: 'external' }),
  s(
    'LATCHKEY_GITHUB_AUTHORIZE_URL',
    'url',
    'https://github.com/login/oauth/authorize',
    'GitHub authorize endpoint (GitHub Enterprise: your server)',
    { group: 'external' },
  ),
  s('LATCHKEY_GITHUB_TOKEN_URL', 'url', 'https://github.com/login/oauth/access_token', 'GitHub token endpoint', {
    group: 'external',
  }),
  s('LATCHKEY_GITHUB_USERINFO_URL', 'url', 'https://api.github.com/user', 'GitHub user API', { group: 'external' }),
  s(
    'LATCHKEY_GITHUB_EMAILS_URL',
    'url',
    'https://api.github.com/user/emails',
    'GitHub emails API (gives the verified primary email)',
    { group: 'external' },
  ),
  s('LATCHKEY_FACEBOOK_CLIENT_ID', 'string', undefined, 'Facebook app id', { group: 'external' }),
  s('LATCHKEY_FACEBOOK_CLIENT_SECRET', 'string', undefined, 'Facebook app secret', { group: 'external' }),
  s('LATCHKEY_FACEBOOK_SCOPES', 'string', 'public_profile email', 'Facebook scopes', { group: 'external' }),
  s(
    'LATCHKEY_FACEBOOK_AUTHORIZE_URL',
    'url',
    'https://www.facebook.com/v19.0/dialog/oauth',
    'Facebook authorize endpoint',
    { group: 'external' },
  ),
  s(
    'LATCHKEY_FACEBOOK_TOKEN_URL',
    'url',
    'https://graph.facebook.com/v19.0/oauth/access_token',
    'Facebook token endpoint',
    { group: 'external' },
  ),
  s(
    'LATCHKEY_FACEBOOK_USERINFO_URL',
    'url',
    'https://graph.facebook.com/v19.0/me?fields=id,name',
    'Facebook user API',
    { group: 'external' },
  ),
  s('LATCHKEY_X_CLIENT_ID', 'string', undefined, 'X (Twitter) OAuth 2.0 client id', { group: 'external' }),
  s('LATCHKEY_X_CLIENT_SECRET', 'string', undefined, 'X (Twitter) OAuth 2.0 client secret', { group: 'external' }),
  s('LATCHKEY_X_SCOPES', 'string', 'users.read tweet.read', 'X scopes', { group: 'external' }),
  s('LATCHKEY_X_AUTHORIZE_URL', 'url', 'https://x.com/i/oauth2/authorize', 'X authorize endpoint', {
    group: 'external',
  }),
  s('LATCHKEY_X_TOKEN_URL', 'url', 'https://api.x.com/2/oauth2/token', 'X token endpoint', { group: 'external' }),
  s('LATCHKEY_X_USERINFO_URL', 'url', 'https://api.x.com/2/users/me', 'X user API', { group: 'external' }),
  // --- SMS delivery (src/delivery/sms)
  s(
    'LATCHKEY_SMS_GATEWAY',
    'enum',
    'none',
    'SMS gateway; `none` keeps SMS in the outbox (in development they appear in /dev/mailbox)',
    {
      values: ['none', 'twilio', 'vonage', 'webhook'],
      group: 'sms',
    },
  ),
  s('LATCHKEY_SMS_FROM', 'string', 'Latchkey', 'sender number or alphanumeric sender id', { group: 'sms' }),
  s(
    'LATCHKEY_SMS_BRAND_SENDER',
    'bool',
    'false',
    "send each SMS under its organization's name (an alphanumeric sender id of up to 11 letters and digits) instead of LATCHKEY_SMS_FROM; only where the gateway and the country allow such ids",
    { group: 'sms' },
  ),
  s('LATCHKEY_SMS_TIMEOUT', 'duration', '10s', 'how long one gateway call may take before it is retried', {
    min: 1,
    max: 120,
    group: 'sms',
  }),
  s('LATCHKEY_TWILIO_BASE_URL', 'url', 'https://api.twilio.com', 'Twilio API base URL', { group: 'sms' }),
  s('LATCHKEY_TWILIO_ACCOUNT_SID', 'string', undefined, 'Twilio account SID', { group: 'sms' }),
  s('LATCHKEY_TWILIO_AUTH_TOKEN', 'string', undefined, 'Twilio auth token', { group: 'sms' }),
  s('LATCHKEY_VONAGE_BASE_URL', 'url', 'https://rest.nexmo.com', 'Vonage SMS API base URL', { group: 'sms' }),
  s('LATCHKEY_VONAGE_API_KEY', 'string', undefined, 'Vonage API key', { group: 'sms' }),
  s('LATCHKEY_VONAGE_API_SECRET', 'string', undefined, 'Vonage API secret', { group: 'sms' }),
  s(
    'LATCHKEY_SMS_WEBHOOK_URL',
    'url',
    undefined,
    'generic gateway: HTTPS endpoint that receives a signed JSON POST per SMS',
    { group: 'sms' },
  ),
  s(
    'LATCHKEY_SMS_WEBHOOK_SECRET',
    'string',
    undefined,
    'generic gateway: HMAC-SHA256 key for the X-Latchkey-Signature header',
    { group: 'sms' },
  ),
  s(
    'LATCHKEY_SMS_ALLOWED_COUNTRIES',
    'list',
    undefined,
    'country calling codes mobile numbers may have, e.g. `1,44,49` (default: any) (OTP-05)',
    { group: 'sms' },
  ),
  s(
    'LATCHKEY_SMS_BUDGET',
    'rate',
    '1000/1h',
    'SMS the whole install may queue per window (`N/window`, shared across processes through LATCHKEY_REDIS_URL); past it nothing more is sent, answers stay the same, `latchkey_sms_budget_exhausted_total` counts each withheld SMS and `sms.budget_exhausted` is audited once per window (OTP-05, docs/sms.md)',
    { group: 'sms' },
  ),
  // --- Latchkey as OpenID Provider (docs/openid-provider.md)
  s('LATCHKEY_OP_ENABLED', 'bool', 'true', 'serve the OpenID Provider under `/oidc` and forward-auth (OP-01..OP-07)', {
    group: 'op',
  }),
  s('LATCHKEY_OP_CODE_TTL', 'duration', '60s', 'lifetime of an authorization code', { min: 1, max: 600, group: 'op' }),
  s('LATCHKEY_OP_ACCESS_TOKEN_TTL', 'duration', '10m', 'lifetime of an access token', {
    min: 1,
    max: 86400,
    group: 'op',
  }),
  s('LATCHKEY_OP_ID_TOKEN_TTL', 'duration', '1h', 'lifetime of an ID token', { min: 1, max: 86400, group: 'op' }),
  s(
    'LATCHKEY_OP_REFRESH_TOKEN_TTL',
    'duration',
    '14d',
    'lifetime of a refresh token (each use rotates it, OP-03); also how long a grant lives',
    { min: 1, max: 31536000, group: 'op' },
  ),
  s(
    'LATCHKEY_OP_KEY_RELOAD',
    'duration',
    '60s',
    'how often a running process reloads the signing keys, so `latchkey keys rotate` reaches every process',
    { min: 1, max: 86400, group: 'op' },
  ),
] as const satisfies readonly Setting[];

export type SettingName = (typeof SETTINGS)[number]['env'];

/**
 * A family of settings named by the operator: `${prefix}<NAME>_${part}`, any number of NAMEs
 * (upper-case letters, digits, `_`). The loader groups the members by NAME and rejects unknown
 * parts; the owner of the family checks what a member needs (src/config/external.ts).
 */
export interface SettingFamily {
  prefix: string;
  /** who uses the family, for the unknown-setting message */
  what: string;
  group: string;
  parts: readonly { part: string; kind: SettingKind; default?: string; doc: string }[];
}

export const FAMILIES = [
  {
    prefix: 'LATCHKEY_OIDC_',
    what: 'generic OpenID providers',
    group: 'external',
    parts: [
      {
        part: 'ISSUER',
        kind: 'url',
        doc: 'generic OpenID Connect provider NAME (any number of them): its issuer (OpenID discovery); https, or http on loopback only. Required',
      },
      { part: 'CLIENT_ID', kind: 'string', doc: 'client id at provider NAME. Required' },
      { part: 'CLIENT_SECRET', kind: 'string', doc: 'client secret at provider NAME. Required' },
      { part: 'SCOPES', kind: 'string', default: 'openid email profile', doc: 'scopes requested from provider NAME' },
      {
        part: 'DISPLAY_NAME',
        kind: 'string',
        doc: 'button label, at most 60 characters. Default: NAME capitalised (`CORP` → `Corp`); the provider id in URLs is `oidc-<name>`',
      },
    ],
  },
] as const satisfies readonly SettingFamily[];
