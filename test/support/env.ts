import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

/** In CI every suite must run: an absent service is a failure, never a skip. */
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

export const PG_ADMIN_URL = process.env.LATCHKEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.LATCHKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const CHROMIUM = process.env.LATCHKEY_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Skips the test (outside CI) with a printed reason when `available` is false; fails in CI.
 * Returns true when the test should go on.
 */
export function needs(t: TestContext | undefined, what: string, available: boolean): boolean {
  if (available) return true;
  const reason = `${what} is not available`;
  if (IN_CI) throw new Error(`${reason}, and CI must run this suite`);
  console.log(`# SKIP: ${reason}`);
  t?.skip(reason);
  return false;
}

export const chromiumAvailable = () => existsSync(CHROMIUM);
