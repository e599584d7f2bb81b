import { matchLocale, SHIPPED_LOCALES } from '../i18n/locales.ts';
import { normalizeEmail } from '../security/identifiers.ts';
import { colorProblem, parseHexColor } from '../web/contrast.ts';
import { type ExternalConfig, externalSection } from './external.ts';
import { ConfigError, type Rate, readSettings, type Settings } from './load.ts';
import {
  type CaptchaConfig,
  captchaSection,
  type LimitsConfig,
  limitsSection,
  type SmsConfig,
  smsSection,
} from './sections.ts';

export type { ExternalConfig, GenericOidcSettings, OAuthSettings, OidcSettings } from './external.ts';
export { ConfigError, parseDuration, parseRate, type Rate, type RateSetting, type Settings } from './load.ts';
export type { CaptchaConfig, LimitsConfig, SmsConfig } from './sections.ts';

/** The typed configuration every module receives. Durations are milliseconds. */
export interface Config {
  env: 'development' | 'production';
  dev: boolean;
  host: string;
  port: number;
  publicUrl: string;
  publicOrigin: string;
  https: boolean;
  databaseUrl: string;
  redisUrl?: string;
  smtpUrl?: string;
  mailFrom: string;
  captcha: CaptchaConfig;
  resetTtl: number;
  trustedProxies: string[];
  logLevel: string;
  secret?: string;
  productName: string;
  supportContact: string;
  /** LATCHKEY_LOCALES (shipped tags, in picker order) and the fallback among them */
  locales: { offered: string[]; fallback: string };
  /** install-wide brand: primary colours (checked for contrast at start) and support links */
  brand: { primaryColor: string; primaryColorDark: string; supportUrl?: string; supportEmail?: string };
  bodyLimit: number;
  /** ENUM-04: where /metrics is served and what it requires (see metricsPlacement) */
  metrics: { token?: string; address?: { host: string; port: number } };
  /** the Swagger UI at /docs (WEB-06: off in production unless asked for) */
  apiDocs: boolean;
  password: { minLength: number; maxLength: number; minScore: number };
  argon2: { memoryCost: number; timeCost: number; parallelism: 1 };
  /** threads that hash passwords; undefined: one per CPU */
  hashThreads?: number;
  session: { idleTtl: number; absoluteTtl: number; reauthWindow: number };
  /** second factors: half-finished sign-in lifetime, per-account attempts, remembered browsers */
  mfa: { pendingTtl: number; attempts: Rate; rememberTtl: number };
  /** passkeys (MFA-04): the relying-party id, the one origin ceremonies may come from, challenge lifetime */
  webauthn: { rpId: string; origin: string; challengeTtl: number };
  activationTtl: number;
  /** how long a requested account deletion waits (signing in meanwhile cancels it) */
  deletionGrace: number;
  /** QR sign-in (src/flows/qr): off hides it everywhere; durations in ms */
  qr: { enabled: boolean; ttl: number; rotate: number; interval: number };
  outbox: { poll: number; maxAttempts: number; backoffBase: number; smtpTimeout: number };
  /** the database pool and its timeouts (AV-02) */
  database: {
    poolSize: number;
    connectTimeout: number;
    statementTimeout: number;
    idleTimeout: number;
    busyTimeout: number;
  };
  /** how long a client may take to send a request (AV-02) */
  http: { requestTimeout: number; headersTimeout: number };
  limits: LimitsConfig;
  sms: SmsConfig;
  external: ExternalConfig;
  /** Latchkey as OpenID Provider; TTLs in ms */
  op: {
    enabled: boolean;
    codeTtl: number;
    accessTokenTtl: number;
    idTokenTtl: number;
    refreshTokenTtl: number;
    keyReload: number;
  };
  /** every setting by env name, typed from the schema (src/config/load.ts Settings) */
  settings: Settings;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const { settings: s, families } = readSettings(env);
  const problems: string[] = [];
  const port = s.LATCHKEY_PORT;
  const publicUrl = (s.LATCHKEY_PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const origin = new URL(publicUrl).origin;
  const dev = s.LATCHKEY_ENV !== 'production';
  const cfg: Config = {
    env: s.LATCHKEY_ENV,
    dev,
    host: s.LATCHKEY_HOST,
    port,
    publicUrl,
    publicOrigin: origin,
    https: origin.startsWith('https:'),
    databaseUrl: s.LATCHKEY_DATABASE_URL,
    redisUrl: s.LATCHKEY_REDIS_URL,
    smtpUrl: s.LATCHKEY_SMTP_URL,
    mailFrom: s.LATCHKEY_MAIL_FROM,
    captcha: captchaSection(s, problems),
    resetTtl: s.LATCHKEY_RESET_TTL,
    trustedProxies: s.LATCHKEY_TRUSTED_PROXIES ?? [],
    logLevel: s.LATCHKEY_LOG_LEVEL,
    secret: s.LATCHKEY_SECRET,
    productName: s.LATCHKEY_PRODUCT_NAME,
    supportContact: s.LATCHKEY_SUPPORT_CONTACT,
    locales: localesSection(s, problems),
    brand: brandSection(s, problems),
    bodyLimit: s.LATCHKEY_BODY_LIMIT,
    metrics: { token: s.LATCHKEY_METRICS_TOKEN },
    apiDocs: (s.LATCHKEY_API_DOCS ?? (dev ? 'on' : 'off')) === 'on',
    password: {
      minLength: s.LATCHKEY_PASSWORD_MIN_LENGTH,
      maxLength: s.LATCHKEY_PASSWORD_MAX_LENGTH,
      minScore: s.LATCHKEY_PASSWORD_MIN_SCORE,
    },
    argon2: { memoryCost: s.LATCHKEY_ARGON2_MEMORY, timeCost: s.LATCHKEY_ARGON2_TIME, parallelism: 1 },
    hashThreads: s.LATCHKEY_ARGON2_THREADS,
    session: {
      idleTtl: s.LATCHKEY_SESSION_IDLE_TTL,
      absoluteTtl: s.LATCHKEY_SESSION_ABSOLUTE_TTL,
      reauthWindow: s.LATCHKEY_REAUTH_WINDOW,
    },
    mfa: {
      pendingTtl: s.LATCHKEY_MFA_PENDING_TTL,
      attempts: s.LATCHKEY_MFA_ATTEMPTS,
      rememberTtl: s.LATCHKEY_MFA_REMEMBER_TTL,
    },
    webauthn: {
      rpId: (s.LATCHKEY_WEBAUTHN_RP_ID ?? new URL(publicUrl).hostname).toLowerCase(),
      origin,
      challengeTtl: s.LATCHKEY_WEBAUTHN_CHALLENGE_TTL,
    },
    activationTtl: s.LATCHKEY_ACTIVATION_TTL,
    deletionGrace: s.LATCHKEY_DELETION_GRACE,
    qr: {
      enabled: s.LATCHKEY_QR_LOGIN === 'on',
      ttl: s.LATCHKEY_QR_TTL,
      rotate: s.LATCHKEY_QR_ROTATE,
      interval: s.LATCHKEY_QR_POLL_INTERVAL,
    },
    outbox: {
      poll: s.LATCHKEY_OUTBOX_POLL,
      maxAttempts: s.LATCHKEY_OUTBOX_MAX_ATTEMPTS,
      backoffBase: s.LATCHKEY_OUTBOX_BACKOFF_BASE,
      smtpTimeout: s.LATCHKEY_SMTP_TIMEOUT,
    },
    database: {
      poolSize: s.LATCHKEY_DB_POOL_SIZE,
      connectTimeout: s.LATCHKEY_DB_CONNECT_TIMEOUT,
      statementTimeout: s.LATCHKEY_DB_STATEMENT_TIMEOUT,
      idleTimeout: s.LATCHKEY_DB_IDLE_TIMEOUT,
      busyTimeout: s.LATCHKEY_DB_BUSY_TIMEOUT,
    },
    http: {
      requestTimeout: s.LATCHKEY_REQUEST_TIMEOUT,
      headersTimeout: Math.min(s.LATCHKEY_HEADERS_TIMEOUT ?? Number.POSITIVE_INFINITY, s.LATCHKEY_REQUEST_TIMEOUT),
    },
    limits: limitsSection(s, dev, problems),
    sms: smsSection(s, problems),
    external: externalSection(s, families, problems),
    op: {
      enabled: s.LATCHKEY_OP_ENABLED,
      codeTtl: s.LATCHKEY_OP_CODE_TTL,
      accessTokenTtl: s.LATCHKEY_OP_ACCESS_TOKEN_TTL,
      idTokenTtl: s.LATCHKEY_OP_ID_TOKEN_TTL,
      refreshTokenTtl: s.LATCHKEY_OP_REFRESH_TOKEN_TTL,
      keyReload: s.LATCHKEY_OP_KEY_RELOAD,
    },
    settings: s,
  };
  if (!cfg.dev && !cfg.smtpUrl)
    problems.push(
      'LATCHKEY_SMTP_URL: required when LATCHKEY_ENV=production (mail is how people recover their accounts)',
    );
  if (!cfg.dev && !cfg.secret)
    problems.push('LATCHKEY_SECRET: required when LATCHKEY_ENV=production (at least 32 random characters)');
  // WEB-06: over http the session cookie cannot be Secure or __Host-, and HSTS is never sent.
  if (!cfg.dev && !cfg.https && !s.LATCHKEY_ALLOW_HTTP)
    problems.push(
      `LATCHKEY_PUBLIC_URL=${publicUrl}: production needs an https:// public URL (cookies are only Secure and HSTS only sent over https); set LATCHKEY_ALLOW_HTTP=true only when a TLS-terminating proxy on the same host serves it`,
    );
  const metricsAddress = s.LATCHKEY_METRICS_ADDRESS;
  if (metricsAddress !== undefined) {
    const address = parseHostPort(metricsAddress);
    if (address) cfg.metrics.address = address;
    else
      problems.push(
        `LATCHKEY_METRICS_ADDRESS=${JSON.stringify(metricsAddress.slice(0, 80))}: must be host:port, e.g. 127.0.0.1:9464 or [::1]:9464`,
      );
  }
  // WebAuthn: the RP ID must be the origin's host or a registrable suffix of it, or no browser
  // will create or use a passkey for it.
  const host = new URL(publicUrl).hostname.toLowerCase();
  const rp = cfg.webauthn.rpId;
  if (
    s.LATCHKEY_WEBAUTHN_RP_ID !== undefined &&
    (!/^[a-z0-9.-]{1,253}$/.test(rp) || !(host === rp || host.endsWith(`.${rp}`)))
  )
    problems.push(
      `LATCHKEY_WEBAUTHN_RP_ID=${JSON.stringify(rp.slice(0, 80))}: must be the public URL's host (${host}) or a domain it belongs to`,
    );
  if (cfg.session.idleTtl > cfg.session.absoluteTtl)
    problems.push('LATCHKEY_SESSION_IDLE_TTL: must not be longer than LATCHKEY_SESSION_ABSOLUTE_TTL');
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

/** Brand colours must be readable (WCAG 4.5:1) in both schemes; a bad one stops the start. */
/** LATCHKEY_LOCALES / LATCHKEY_DEFAULT_LOCALE: shipped languages only, the fallback among them. */
function localesSection(s: Settings, problems: string[]): Config['locales'] {
  const offered: string[] = [];
  for (const tag of s.LATCHKEY_LOCALES ?? SHIPPED_LOCALES) {
    const found = matchLocale(tag, SHIPPED_LOCALES);
    if (!found || found.toLowerCase() !== tag.trim().toLowerCase())
      problems.push(`LATCHKEY_LOCALES: "${tag}" is not one of ${SHIPPED_LOCALES.join(', ')}`);
    else if (!offered.includes(found)) offered.push(found);
  }
  const fallback = matchLocale(s.LATCHKEY_DEFAULT_LOCALE, offered);
  if (!fallback || fallback.toLowerCase() !== s.LATCHKEY_DEFAULT_LOCALE.trim().toLowerCase())
    problems.push(
      `LATCHKEY_DEFAULT_LOCALE: "${s.LATCHKEY_DEFAULT_LOCALE}" is not one of LATCHKEY_LOCALES (${offered.join(', ')})`,
    );
  return { offered: offered.length ? offered : ['en'], fallback: fallback ?? offered[0] ?? 'en' };
}

function brandSection(s: Settings, problems: string[]): Config['brand'] {
  const light = colorProblem(s.LATCHKEY_BRAND_COLOR, 'light');
  if (light) problems.push(`LATCHKEY_BRAND_COLOR: ${light}`);
  const dark = colorProblem(s.LATCHKEY_BRAND_COLOR_DARK, 'dark');
  if (dark) problems.push(`LATCHKEY_BRAND_COLOR_DARK: ${dark}`);
  const supportEmail = s.LATCHKEY_SUPPORT_EMAIL?.trim();
  if (supportEmail !== undefined && normalizeEmail(supportEmail) === undefined)
    problems.push('LATCHKEY_SUPPORT_EMAIL: must be an email address');
  return {
    primaryColor: parseHexColor(s.LATCHKEY_BRAND_COLOR) ?? '#1f5fbf',
    primaryColorDark: parseHexColor(s.LATCHKEY_BRAND_COLOR_DARK) ?? '#79b8ff',
    supportUrl: s.LATCHKEY_SUPPORT_URL,
    supportEmail,
  };
}

/** `127.0.0.1:9464`, `[::1]:9464`, `metrics.internal:9464`; undefined when it is not one. */
function parseHostPort(raw: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(raw.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}
