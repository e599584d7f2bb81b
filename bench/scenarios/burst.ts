// BF-06 figures (not part of npm test): bursts of parallel sign-in attempts for one account from
// one IP, with the real defaults (LATCHKEY_RATE_LIMIT_SCALE=1, ALTCHA so the step-up applies), one
// attempt three quarters in carrying the right password. Counts the hashes the service actually
// ran (by wrapping its hash pool, so it measures any version of the code alike), the real password
// checks among them, and the sign-ins granted. On SQLite (one process) and on PostgreSQL + Redis
// (two processes on one database and one Redis, attempts alternating between them).
//   npm run bench -- burst
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createAccounts } from '../../test/abuse/helpers.ts';
import { REDIS_URL } from '../../test/support/env.ts';
import { freshPostgres, postgresAvailable } from '../../test/support/pg.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import type { Scenario } from '../lib/scenario.ts';

const PASSWORD = 'violet-harbor-burst-quantum-meadow-7q2';

/** Counts the hashes `server` runs: total argon2 verifications, and those against a real account's hash. */
function countHashes(server: TestServer, realHashes: () => Set<string>) {
  const pool = (
    server.deps.hasher as unknown as { pool: { run: (job: { op: string; stored?: string }) => Promise<unknown> } }
  ).pool;
  const counts = { hashes: 0, checks: 0 };
  const run = pool.run.bind(pool);
  pool.run = (job) => {
    if (job.op === 'verify') {
      counts.hashes++;
      if (job.stored && realHashes().has(job.stored)) counts.checks++;
    }
    return run(job);
  };
  return counts;
}

async function burstOn(servers: TestServer[], n: number, tag: string) {
  const username = `burst${tag}${n}`;
  await createAccounts(servers[0], [username], PASSWORD);
  const row = await servers[0].deps.db
    .selectFrom('accounts')
    .select('password_hash')
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
  const real = new Set([row.password_hash as string]);
  const counters = servers.map((s) => countHashes(s, () => real));
  const ip = `203.0.${n % 250}.${tag === 'pg' ? 2 : 1}`;
  const rightAt = Math.floor((n * 3) / 4);
  const t0 = performance.now();
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      servers[i % servers.length]
        .client({ headers: { 'x-forwarded-for': ip } })
        .post('/api/v1/sessions', { identifier: username, password: i === rightAt ? PASSWORD : `wrong-guess-${i}` }),
    ),
  );
  const ms = performance.now() - t0;
  const statuses: Record<string, number> = {};
  for (const r of answers) {
    const k = r.status === 201 || r.status === 401 ? String(r.status) : `${r.status} ${r.json?.code}`;
    statuses[k] = (statuses[k] ?? 0) + 1;
  }
  // Undo the wrapping: the next burst counts afresh.
  for (const s of servers) {
    const pool = (s.deps.hasher as unknown as { pool: { run: unknown } }).pool as { run: unknown };
    delete (pool as Record<string, unknown>).run;
  }
  return {
    attempts: n,
    rightPasswordAt: rightAt + 1,
    hashesRun: counters.reduce((a, c) => a + c.hashes, 0),
    passwordChecks: counters.reduce((a, c) => a + c.checks, 0),
    signInsGranted: statuses['201'] ?? 0,
    statuses,
    ms: Math.round(ms),
  };
}

const ENV = {
  LATCHKEY_CAPTCHA: 'altcha',
  LATCHKEY_RATE_LIMIT_SCALE: '1',
  LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
};

async function redisUp(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  const up = await r.connect().then(
    () => true,
    () => false,
  );
  r.disconnect();
  return up;
}

export const scenarios: Scenario[] = [
  {
    name: 'burst',
    description:
      'BF-06: 60 and 200 parallel sign-ins for one account from one IP; hashes run, password checks, sign-ins granted (SQLite; PostgreSQL + Redis)',
    async run() {
      const figures: Record<string, unknown> = {};
      const sqlite = await startTestServer(ENV);
      try {
        figures.sqlite = { burst60: await burstOn([sqlite], 60, 'sq'), burst200: await burstOn([sqlite], 200, 'sq') };
      } finally {
        await sqlite.close();
      }
      if ((await postgresAvailable()) && (await redisUp())) {
        const pg = await freshPostgres();
        const prefix = `latchkey-bench-${randomBytes(6).toString('hex')}`;
        const env = {
          ...ENV,
          LATCHKEY_DATABASE_URL: pg.url,
          LATCHKEY_REDIS_URL: REDIS_URL,
          LATCHKEY_REDIS_PREFIX: prefix,
        };
        const a = await startTestServer(env);
        const b = await startTestServer(env);
        try {
          figures.postgresRedisTwoProcesses = {
            burst60: await burstOn([a, b], 60, 'pg'),
            burst200: await burstOn([a, b], 200, 'pg'),
          };
        } finally {
          await a.close();
          await b.close();
          await pg.drop();
          const r = new Redis(REDIS_URL);
          const keys = await r.keys(`${prefix}:*`);
          if (keys.length) await r.del(...keys);
          r.disconnect();
        }
      } else figures.postgresRedisTwoProcesses = 'skipped: PostgreSQL or Redis not available';
      return { figures };
    },
  },
];
