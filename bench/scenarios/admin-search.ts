// admin-search: the staff console's account search (GET /api/v1/admin/accounts) at 100k
// accounts, on SQLite and on PostgreSQL. Accounts are seeded by bulk inserts straight into the
// service's database (registering 100k through the API would take hours of password hashing);
// one admin then searches by exact and prefix username, email and phone, a few requests in
// flight at a time, and the latencies of every request give the percentiles. Target: p99 ≤ 50 ms
// (issue 20), which needs the normalised keys indexed (migration 008).
import { sql } from 'kysely';
import { usernameSkeleton } from '../../src/security/identifiers.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { setStaffRole } from '../../src/store/staff.ts';
import { freshPostgres, postgresAvailable } from '../../test/support/pg.ts';
import { activeAccounts, sessionCookie } from '../lib/accounts.ts';
import { round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { startService } from '../lib/service.ts';

const ACCOUNTS = Number(process.env.BENCH_ADMIN_ACCOUNTS ?? 100_000);
const BATCH = 500;
const IN_FLIGHT = Number(process.env.BENCH_ADMIN_IN_FLIGHT ?? 1);

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Deterministic, spread-out names: prefixes of 1-5 characters match from thousands of accounts down to a few. */
function seedName(i: number): string {
  return `m${((i * 2654435761) >>> 0).toString(36)}${i.toString(36)}`;
}

async function seed(store: Store, n: number): Promise<number> {
  const t0 = performance.now();
  const org = await store.db
    .selectFrom('organizations')
    .select('id')
    .where('slug', '=', 'default')
    .executeTakeFirstOrThrow();
  const now = Date.now();
  for (let start = 0; start < n; start += BATCH) {
    const rows = [];
    for (let i = start; i < Math.min(n, start + BATCH); i++) {
      const username = seedName(i);
      rows.push({
        id: `seed${i.toString(36).padStart(8, '0')}`,
        org_id: org.id,
        username,
        username_key: username,
        username_skeleton: usernameSkeleton(username),
        email: `${username}@example${i % 97}.test`,
        email_key: `${username}@example${i % 97}.test`,
        status: 'active' as const,
        password_hash: null,
        display_name: null,
        phone: i % 3 === 0 ? `+4477${String(i).padStart(8, '0')}` : null,
        phone_verified_at: i % 3 === 0 ? now : null,
        is_staff: 0,
        flagged_at: null,
        flag_reason: null,
        created_at: now - i,
        updated_at: now - i,
        activated_at: now - i,
        password_changed_at: null,
      });
    }
    await store.db.insertInto('accounts').values(rows).execute();
  }
  if (store.engine === 'postgres') await sql`analyze accounts`.execute(store.db);
  else await sql`analyze`.execute(store.db);
  return performance.now() - t0;
}

/** The searches staff type: exact and prefix, by username, email and phone. */
function queries(n: number): { kind: string; path: string }[] {
  const out: { kind: string; path: string }[] = [];
  for (let k = 0; k < 400; k++) {
    const i = (k * 7919) % n;
    const name = seedName(i);
    const q = (s: string, exact = false) =>
      `/api/v1/admin/accounts?q=${encodeURIComponent(s)}${exact ? '&exact=1' : ''}`;
    out.push({ kind: 'username exact', path: q(name, true) });
    out.push({ kind: 'username prefix', path: q(name.slice(0, 2 + (k % 4))) });
    out.push({ kind: 'email exact', path: q(`${name}@example${i % 97}.test`, true) });
    out.push({ kind: 'email prefix', path: q(`${name.slice(0, 4)}`) });
    out.push({
      kind: 'phone prefix',
      path: q(
        `+44 77${String(i)
          .padStart(8, '0')
          .slice(0, 3 + (k % 4))}`,
      ),
    });
  }
  return out;
}

const adminSearch = (engine: 'sqlite' | 'postgres'): Scenario => ({
  name: engine === 'sqlite' ? 'admin-search' : 'admin-search-postgres',
  description: `staff account search at ${ACCOUNTS} accounts, exact and prefix by username, email and phone; p99 ≤ 50 ms (${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`,
  async run({ seconds }) {
    if (engine === 'postgres' && !(await postgresAvailable()))
      return { figures: { skipped: 'PostgreSQL not available' } };
    const pg = engine === 'postgres' ? await freshPostgres() : undefined;
    const svc = await startService(pg ? { LATCHKEY_DATABASE_URL: pg.url } : {});
    const store = openStore(svc.env.LATCHKEY_DATABASE_URL);
    try {
      const seedMs = await seed(store, ACCOUNTS);
      // one admin with a second factor, signed in with it (what f18's sign-in step records)
      const [admin] = await activeAccounts(svc, 1, 'benchadmin');
      const row = await store.db
        .selectFrom('accounts')
        .select('id')
        .where('username', '=', admin.username)
        .executeTakeFirstOrThrow();
      await setStaffRole(store.db, row.id, 'admin', Date.now(), 'bench');
      const cookie = await sessionCookie(svc, admin);
      await store.db
        .updateTable('sessions')
        .set({ amr: '["pwd","otp","mfa"]' })
        .where('account_id', '=', row.id)
        .execute();

      const list = queries(ACCOUNTS);
      const get = async (path: string) => {
        const t0 = performance.now();
        const res = await fetch(svc.base + path, { headers: { cookie, accept: 'application/json' } });
        const body = (await res.json()) as { accounts?: unknown[] };
        const ms = performance.now() - t0;
        if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(body)}`);
        return { ms, hits: body.accounts?.length ?? 0 };
      };
      // warm-up, and a check that every kind of search finds something
      const found: Record<string, number> = {};
      for (const q of list.slice(0, 50)) found[q.kind] = (found[q.kind] ?? 0) + ((await get(q.path)).hits > 0 ? 1 : 0);
      for (const [kind, hits] of Object.entries(found)) if (!hits) throw new Error(`no ${kind} search found anything`);

      const byKind = new Map<string, number[]>();
      const all: number[] = [];
      const end = performance.now() + seconds * 1000;
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (performance.now() < end) {
            const q = list[next++ % list.length];
            const { ms } = await get(q.path);
            all.push(ms);
            const k = byKind.get(q.kind) ?? [];
            k.push(ms);
            byKind.set(q.kind, k);
          }
        }),
      );
      all.sort((a, b) => a - b);
      const p99 = round(pct(all, 99), 2);
      return {
        figures: {
          accounts: ACCOUNTS,
          seedSeconds: round(seedMs / 1000, 1),
          inFlight: IN_FLIGHT,
          requests: all.length,
          perSecond: round(all.length / seconds, 0),
          p50Ms: round(pct(all, 50), 2),
          p95Ms: round(pct(all, 95), 2),
          p99Ms: p99,
          maxMs: round(all[all.length - 1] ?? 0, 2),
          p99ByKindMs: Object.fromEntries(
            [...byKind].map(([k, xs]) => [
              k,
              round(
                pct(
                  [...xs].sort((a, b) => a - b),
                  99,
                ),
                2,
              ),
            ]),
          ),
        },
        targets: [{ name: 'account search p99', target: '≤ 50 ms', measured: p99, met: p99 <= 50 }],
      };
    } finally {
      await store.close();
      await svc.stop();
      await pg?.drop();
    }
  },
});

export const scenarios: Scenario[] = [adminSearch('sqlite'), adminSearch('postgres')];
