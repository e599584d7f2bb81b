import { randomBytes } from 'node:crypto';
import { after, before, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import type { DepsOverrides } from '../../src/deps.ts';
import { launchBrowser } from './browser.ts';
import { CHROMIUM, chromiumAvailable, needs, REDIS_URL } from './env.ts';
import { freshPostgres, postgresAvailable } from './pg.ts';
import { dropRedisPrefix, redisAvailable } from './redis.ts';
import { startTestServer, type TestServer } from './server.ts';
import { type ReceivedMail, SmtpReceiver } from './smtp.ts';

type Env = Record<string, string>;
type Overrides = DepsOverrides & { worker?: boolean };
/** A value, or a function giving it when the server starts (for ports of fakes started in an earlier `before`). */
type Lazy<T> = T | (() => T | Promise<T>);

export interface FixtureOptions {
  /** a real SMTP receiver the server sends to (LATCHKEY_SMTP_URL) */
  smtp?: boolean;
  /** a fresh PostgreSQL database (LATCHKEY_DATABASE_URL), dropped afterwards; SQLite otherwise */
  pg?: boolean;
  /** Redis (LATCHKEY_REDIS_URL) under a prefix unique to this run, cleaned afterwards */
  redis?: boolean;
  /** Chromium, launched once for the file */
  browser?: boolean;
  /** a second server on the same database, SMTP receiver and Redis, with these extra settings */
  twin?: boolean | { env?: Env; overrides?: Overrides };
  env?: Lazy<Env>;
  overrides?: Lazy<Overrides>;
}

export interface Fixture {
  readonly server: TestServer;
  /** the second server, when `twin` was asked for */
  readonly twin: TestServer;
  readonly smtp: SmtpReceiver;
  readonly browser: Browser;
  /** the LATCHKEY_REDIS_PREFIX in use, when `redis` was asked for */
  readonly redisPrefix: string;
  /** true once everything asked for runs (false when a service is absent outside CI) */
  readonly running: boolean;
  /** Runs `stop` in `after`, before the fixture stops its own services (last added runs first). */
  onStop(stop: () => unknown): void;
  /**
   * False (and the test skipped) when a service asked for is absent outside CI; in CI the
   * `before` hook has already failed. Tests of a fixture with pg, redis or browser start with it.
   */
  ready(t: TestContext): boolean;
  /**
   * Waits for a mail whose recipient contains `to` (case as given) and, when `match` is given,
   * whose subject matches it (a RegExp) or which it accepts (a function).
   */
  mail(to: string, match?: RegExp | ((m: ReceivedMail) => boolean), timeoutMs?: number): Promise<ReceivedMail>;
}

/** Just the SMTP receiver, started in `before` and stopped in `after` (for servers a test spawns itself). */
export function withSmtp(): SmtpReceiver {
  const smtp = new SmtpReceiver();
  before(() => smtp.start());
  after(() => smtp.stop());
  return smtp;
}

const lazy = async <T>(v: Lazy<T> | undefined, fallback: T): Promise<T> =>
  typeof v === 'function' ? (v as () => T | Promise<T>)() : (v ?? fallback);

/**
 * The server and what it talks to (SMTP receiver, PostgreSQL database, Redis prefix, Chromium),
 * started once for the enclosing describe in `before` and stopped in `after`, so every file sets
 * them up the same way. Call it at the top of a describe; read `fx.server` etc. inside tests.
 */
export function withServer(opts: FixtureOptions = {}): Fixture {
  const smtp = opts.smtp ? new SmtpReceiver() : undefined;
  const redisPrefix = opts.redis ? `latchkey-test-${randomBytes(6).toString('hex')}` : undefined;
  const missing: string[] = [];
  let server: TestServer | undefined;
  let twin: TestServer | undefined;
  let browser: Browser | undefined;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  let redisUsed = false;
  const stops: (() => unknown)[] = [];

  before(async () => {
    if (opts.pg && !(await postgresAvailable())) missing.push('PostgreSQL');
    if (opts.redis && !(await redisAvailable())) missing.push('Redis');
    if (opts.browser && !chromiumAvailable()) missing.push(`Chromium at ${CHROMIUM}`);
    // Throws in CI: an absent service fails the suite there instead of skipping it.
    if (!needs(undefined, missing.join(' and '), missing.length === 0)) return;
    const env: Env = { ...(await lazy(opts.env, {})) };
    if (smtp) env.LATCHKEY_SMTP_URL = (await smtp.start()).url;
    if (opts.pg) {
      pg = await freshPostgres();
      env.LATCHKEY_DATABASE_URL = pg.url;
    }
    if (redisPrefix) {
      redisUsed = true;
      env.LATCHKEY_REDIS_URL = REDIS_URL;
      env.LATCHKEY_REDIS_PREFIX = redisPrefix;
    }
    server = await startTestServer(env, await lazy(opts.overrides, {}));
    if (opts.twin) {
      const extra = opts.twin === true ? {} : opts.twin;
      // Same settings and database; its own port.
      const { LATCHKEY_PORT: _port, ...shared } = env;
      twin = await startTestServer(
        { ...shared, LATCHKEY_DATABASE_URL: server.databaseUrl, ...extra.env },
        extra.overrides ?? {},
      );
    }
    if (opts.browser) browser = await launchBrowser();
  });

  after(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await browser?.close();
    await twin?.close();
    await server?.close();
    await smtp?.stop();
    await pg?.drop();
    if (redisPrefix && redisUsed) await dropRedisPrefix(redisPrefix);
  });

  const started = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not running: not asked for, or the before hook failed or skipped`);
    return v;
  };

  return {
    get server() {
      return started(server, 'the server');
    },
    get twin() {
      return started(twin, 'the twin server');
    },
    get smtp() {
      return started(smtp, 'the SMTP receiver');
    },
    get browser() {
      return started(browser, 'Chromium');
    },
    get redisPrefix() {
      return started(redisPrefix, 'Redis');
    },
    get running() {
      return server !== undefined && (!opts.twin || twin !== undefined) && (!opts.browser || browser !== undefined);
    },
    onStop: (stop) => void stops.push(stop),
    ready: (t) => needs(t, missing.join(' and '), missing.length === 0),
    mail(to, match, timeoutMs) {
      const accepts = typeof match === 'function' ? match : (m: ReceivedMail) => !match || match.test(m.subject);
      return started(smtp, 'the SMTP receiver').waitFor((m) => m.to.includes(to) && accepts(m), timeoutMs);
    },
  };
}
