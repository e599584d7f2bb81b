import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { newId } from '../../src/security/random.ts';
import { emailKey, usernameKey } from '../../src/store/accounts.ts';
import { defaultOrgId } from '../../src/store/organizations.ts';
import type { TestServer } from '../support/server.ts';

/** Active accounts written straight into the store (one argon2 hash shared, for speed). */
export async function createAccounts(server: TestServer, names: string[], password: string): Promise<void> {
  const d = server.deps;
  const hash = await d.hasher.hash(password);
  const org = await defaultOrgId(d);
  const now = d.clock.now();
  const rows = names.map((name) => ({
    id: newId(d.random),
    org_id: org,
    username: name,
    username_key: usernameKey(name),
    email: `${name}@example.test`,
    email_key: emailKey(`${name}@example.test`),
    status: 'active' as const,
    password_hash: hash,
    display_name: null,
    phone: null,
    phone_verified_at: null,
    is_staff: 0,
    flagged_at: null,
    flag_reason: null,
    deletion_requested_at: null,
    deletion_due_at: null,
    deleted_at: null,
    created_at: now,
    updated_at: now,
    activated_at: now,
    password_changed_at: now,
  }));
  for (let i = 0; i < rows.length; i += 50)
    await d.db
      .insertInto('accounts')
      .values(rows.slice(i, i + 50))
      .execute();
}

/** Fetches a challenge and solves it the way the widget does; returns the base64 payload. */
export async function solveAltcha(base: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/captcha/challenge`);
  if (res.status !== 200) throw new Error(`challenge: ${res.status}`);
  const challenge = await res.json();
  const solution = await solveChallenge({ challenge, deriveKey, timeout: 30_000 });
  if (!solution) throw new Error('could not solve the ALTCHA challenge');
  return Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
}
