import { ConfigError, readSettings } from './load.ts';
import type { Setting } from './schema.ts';

export { ConfigError, parseDuration } from './load.ts';

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
  captcha: 'altcha' | 'turnstile' | 'hcaptcha' | 'recaptcha' | 'off';
  resetTtl: number;
  trustedProxies: string[];
  logLevel: string;
  secret?: string;
  productName: string;
  supportContact: string;
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
  activationTtl: number;
  outbox: { poll: number; maxAttempts: number; backoffBase: number; smtpTimeout: number };
  /** the database pool and its timeouts (AV-02) */
  database: { poolSize: number; connectTimeout: number; statementTimeout: number; idleTimeout: number; busyTimeout: number };
  /** how long a client may take to send a request (AV-02) */
  http: { requestTimeout: number; headersTimeout: number };
  /** every raw value by env name, for feature modules that add their own settings */
  raw: Record<string, unknown>;
}

export function loadConfig(env: Record<string, string | undefined> = process.env, extra: readonly Setting[] = []): Config {
  const r = readSettings(env, extra);
  const v = <T>(name: string) => r[name] as T;
  const port = v<number>('LATCHKEY_PORT');
  const publicUrl = (v<string | undefined>('LATCHKEY_PUBLIC_URL') ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const origin = new URL(publicUrl).origin;
  const cfg: Config = {
    env: v('LATCHKEY_ENV'),
    dev: v('LATCHKEY_ENV') !== 'production',
    host: v('LATCHKEY_HOST'),
    port,
    publicUrl,
    publicOrigin: origin,
    https: origin.startsWith('https:'),
    databaseUrl: v('LATCHKEY_DATABASE_URL'),
    redisUrl: v('LATCHKEY_REDIS_URL'),
    smtpUrl: v('LATCHKEY_SMTP_URL'),
    mailFrom: v('LATCHKEY_MAIL_FROM'),
    captcha: v('LATCHKEY_CAPTCHA'),
    resetTtl: v('LATCHKEY_RESET_TTL'),
    trustedProxies: v<string[] | undefined>('LATCHKEY_TRUSTED_PROXIES') ?? [],
    logLevel: v('LATCHKEY_LOG_LEVEL'),
    secret: v('LATCHKEY_SECRET'),
    productName: v('LATCHKEY_PRODUCT_NAME'),
    supportContact: v('LATCHKEY_SUPPORT_CONTACT'),
    bodyLimit: v('LATCHKEY_BODY_LIMIT'),
    metrics: { token: v('LATCHKEY_METRICS_TOKEN') },
    apiDocs: (v<string | undefined>('LATCHKEY_API_DOCS') ?? (v('LATCHKEY_ENV') === 'production' ? 'off' : 'on')) === 'on',
    password: {
      minLength: v('LATCHKEY_PASSWORD_MIN_LENGTH'),
      maxLength: v('LATCHKEY_PASSWORD_MAX_LENGTH'),
      minScore: v('LATCHKEY_PASSWORD_MIN_SCORE'),
    },
    argon2: { memoryCost: v('LATCHKEY_ARGON2_MEMORY'), timeCost: v('LATCHKEY_ARGON2_TIME'), parallelism: 1 },
    hashThreads: v('LATCHKEY_ARGON2_THREADS'),
    session: {
      idleTtl: v('LATCHKEY_SESSION_IDLE_TTL'),
      absoluteTtl: v('LATCHKEY_SESSION_ABSOLUTE_TTL'),
      reauthWindow: v('LATCHKEY_REAUTH_WINDOW'),
    },
    activationTtl: v('LATCHKEY_ACTIVATION_TTL'),
    outbox: {
      poll: v('LATCHKEY_OUTBOX_POLL'),
      maxAttempts: v('LATCHKEY_OUTBOX_MAX_ATTEMPTS'),
      backoffBase: v('LATCHKEY_OUTBOX_BACKOFF_BASE'),
      smtpTimeout: v('LATCHKEY_SMTP_TIMEOUT'),
    },
    database: {
      poolSize: v('LATCHKEY_DB_POOL_SIZE'),
      connectTimeout: v('LATCHKEY_DB_CONNECT_TIMEOUT'),
      statementTimeout: v('LATCHKEY_DB_STATEMENT_TIMEOUT'),
      idleTimeout: v('LATCHKEY_DB_IDLE_TIMEOUT'),
      busyTimeout: v('LATCHKEY_DB_BUSY_TIMEOUT'),
    },
    http: {
      requestTimeout: v('LATCHKEY_REQUEST_TIMEOUT'),
      headersTimeout: Math.min(
        v<number | undefined>('LATCHKEY_HEADERS_TIMEOUT') ?? Number.POSITIVE_INFINITY,
        v<number>('LATCHKEY_REQUEST_TIMEOUT'),
      ),
    },
    raw: r,
  };
  const problems: string[] = [];
  if (!cfg.dev && !cfg.smtpUrl)
    problems.push('LATCHKEY_SMTP_URL: required when LATCHKEY_ENV=production (mail is how people recover their accounts)');
  if (!cfg.dev && !cfg.secret)
    problems.push('LATCHKEY_SECRET: required when LATCHKEY_ENV=production (at least 32 random characters)');
  // WEB-06: over http the session cookie cannot be Secure or __Host-, and HSTS is never sent.
  if (!cfg.dev && !cfg.https && !v<boolean>('LATCHKEY_ALLOW_HTTP'))
    problems.push(
      `LATCHKEY_PUBLIC_URL=${publicUrl}: production needs an https:// public URL (cookies are only Secure and HSTS only sent over https); set LATCHKEY_ALLOW_HTTP=true only when a TLS-terminating proxy on the same host serves it`,
    );
  const metricsAddress = v<string | undefined>('LATCHKEY_METRICS_ADDRESS');
  if (metricsAddress !== undefined) {
    const address = parseHostPort(metricsAddress);
    if (address) cfg.metrics.address = address;
    else problems.push(`LATCHKEY_METRICS_ADDRESS=${JSON.stringify(metricsAddress.slice(0, 80))}: must be host:port, e.g. 127.0.0.1:9464 or [::1]:9464`);
  }
  if (cfg.session.idleTtl > cfg.session.absoluteTtl)
    problems.push('LATCHKEY_SESSION_IDLE_TTL: must not be longer than LATCHKEY_SESSION_ABSOLUTE_TTL');
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

/** `127.0.0.1:9464`, `[::1]:9464`, `metrics.internal:9464`; undefined when it is not one. */
function parseHostPort(raw: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(raw.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}
