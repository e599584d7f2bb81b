import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.ts';
import type { DepsOverrides } from '../../src/deps.ts';
import { type Running, startServer } from '../../src/server.ts';
import { Client } from './http.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A loaded test machine is not an outage: generous timeouts, so a slow connection, statement or
 * request is never answered 503 or 408 in a functional test. The availability tests (AV-01,
 * AV-02) pass short ones.
 */
export const GENEROUS_TIMEOUTS = {
  LATCHKEY_DB_CONNECT_TIMEOUT: '60s',
  LATCHKEY_DB_STATEMENT_TIMEOUT: '120s',
  LATCHKEY_REDIS_TIMEOUT: '30s',
  LATCHKEY_REQUEST_TIMEOUT: '120s',
};

export interface TestServer extends Running {
  /** the public URL (same as url): http://127.0.0.1:PORT */
  base: string;
  client(opts?: { origin?: string | null; headers?: Record<string, string> }): Client;
  /** the SQLite file or PostgreSQL URL in use */
  databaseUrl: string;
  env: Record<string, string>;
}

/**
 * Starts the whole service in this process on a free port with a fresh SQLite file (or the
 * database given), test-friendly defaults (quiet logs, fast outbox polling, CAPTCHA off) and
 * any LATCHKEY_* overrides. One per test file: start it in `before`, close it in `after`.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  overrides: DepsOverrides & { worker?: boolean } = {},
): Promise<TestServer> {
  const port = env.LATCHKEY_PORT ? Number(env.LATCHKEY_PORT) : await freePort();
  let dir: string | undefined;
  let databaseUrl = env.LATCHKEY_DATABASE_URL;
  if (!databaseUrl) {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
    databaseUrl = join(dir, 'test.db');
  }
  const fullEnv: Record<string, string> = {
    LATCHKEY_ENV: 'development',
    LATCHKEY_HOST: '127.0.0.1',
    LATCHKEY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    LATCHKEY_LOG_LEVEL: process.env.LATCHKEY_TEST_LOG_LEVEL ?? 'silent',
    LATCHKEY_OUTBOX_POLL: '100ms',
    LATCHKEY_OUTBOX_BACKOFF_BASE: '200ms',
    LATCHKEY_CAPTCHA: 'off',
    // Every test client is 127.0.0.1: generous limits so functional tests are never throttled.
    // Abuse tests pass LATCHKEY_RATE_LIMIT_SCALE: '1' to get the real defaults.
    LATCHKEY_RATE_LIMIT_SCALE: '1000',
    // Test servers serve plain http on loopback; production mode would refuse that (WEB-06).
    LATCHKEY_ALLOW_HTTP: 'true',
    ...GENEROUS_TIMEOUTS,
    ...env,
    LATCHKEY_PORT: String(port),
    LATCHKEY_DATABASE_URL: databaseUrl,
  };
  const config = loadConfig(fullEnv);
  const running = await startServer(config, {
    log: overrides.log ?? pino({ level: fullEnv.LATCHKEY_LOG_LEVEL }),
    ...overrides,
  });
  const base = config.publicUrl;
  return {
    ...running,
    base,
    databaseUrl,
    env: fullEnv,
    client: (opts = {}) => new Client(base, opts.origin === undefined ? base : opts.origin, opts.headers),
    async close() {
      await running.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Messages the dev transport delivered (dev mode without SMTP), newest first. */
export async function devMailbox(server: {
  base: string;
}): Promise<{ to: string; subject: string; text: string; html: string; channel: string }[]> {
  const res = await fetch(`${server.base}/dev/mailbox.json`);
  return (await res.json()).messages;
}

/** Waits until a dev-mailbox message matches. */
export async function waitForDevMail(
  server: { base: string },
  pred: (m: { to: string; subject: string; text: string; channel: string }) => boolean,
  timeoutMs = 10_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = (await devMailbox(server)).find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error('no matching message in the dev mailbox');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A password the policy accepts, unique per call. */
let n = 0;
export function strongPassword(): string {
  n++;
  return `violet-harbor-${n}-quantum-meadow-${Math.random().toString(36).slice(2, 8)}`;
}
