import { availableParallelism } from 'node:os';
import { loadConfig } from '../../src/config/index.ts';
import { PasswordHasher } from '../../src/security/password-hash.ts';
import { activeAccounts, sessionCookie } from '../lib/accounts.ts';
import { type LoadResult, load, round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { startBare, startService } from '../lib/service.ts';
// The same throw-away database the PostgreSQL test suites use (LATCHKEY_TEST_PG_URL names the server).
import { freshPostgres } from '../../test/support/pg.ts';

// The libuv thread pool runs every argon2 hash; its size bounds sign-in throughput.
const POOL = Number(process.env.UV_THREADPOOL_SIZE) || 4;

/**
 * Raw argon2id throughput with the service's own parameters: POOL hashes in flight at all
 * times for `seconds`, in this process while the service is idle.
 */
async function rawHashRate(seconds: number): Promise<{ hashesPerSec: number; concurrency: number; params: object }> {
  const config = loadConfig({ LATCHKEY_DATABASE_URL: ':memory:' });
  const hasher = new PasswordHasher(config.argon2);
  const until = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < until) {
      await hasher.hash('bench-violet-harbor-0-quantum-meadow');
      done++;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: POOL }, worker));
  return { hashesPerSec: round(done / ((Date.now() - t0) / 1000)), concurrency: POOL, params: config.argon2 };
}

const signIn: Scenario = {
  name: 'signin',
  description: 'POST /api/v1/sessions (argon2id verify + session insert) next to raw argon2id hash() throughput',
  async run({ seconds }) {
    const svc = await startService();
    try {
      const accounts = await activeAccounts(svc, 8, 'signin');
      const bodies = accounts.map((a) => JSON.stringify({ identifier: a.username, password: a.password }));
      // twice the pool, so a hash is always queued when one finishes
      const connections = POOL * 2;
      // warm up: JIT, SQLite page cache, the dummy hash
      await load({ url: `${svc.base}/api/v1/sessions`, method: 'POST', connections, duration: 2, headers: { 'content-type': 'application/json' }, bodies });
      const signin = await load({
        url: `${svc.base}/api/v1/sessions`,
        method: 'POST',
        connections,
        duration: seconds,
        headers: { 'content-type': 'application/json' },
        bodies,
      });
      const raw = await rawHashRate(seconds);
      const ratio = round(signin.reqPerSec / raw.hashesPerSec, 3);
      return {
        figures: { signin, raw, ratio, cpus: availableParallelism() },
        targets: [{ name: 'sign-in req/s vs raw argon2id hashes/s', target: '>= 0.90', measured: ratio, met: ratio >= 0.9 && signin.non2xx === 0 }],
      };
    } finally {
      await svc.stop();
    }
  },
};

function currentSession(engine: 'sqlite' | 'postgres'): Scenario {
  return {
    name: engine === 'sqlite' ? 'session' : 'session-pg',
    description: `GET /api/v1/sessions/current at 50 connections on ${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'} next to a bare Fastify route started the same way`,
    async run({ seconds }) {
      const connections = 50;
      const db = engine === 'postgres' ? await freshPostgres() : undefined;
      let current: LoadResult;
      try {
        const svc = await startService(
          db ? { LATCHKEY_DATABASE_URL: db.url } : {},
          process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [],
        );
        try {
          const [a] = await activeAccounts(svc, 1, 'session');
          const cookie = await sessionCookie(svc, a);
          const opts = { url: `${svc.base}/api/v1/sessions/current`, connections, headers: { cookie } };
          await load({ ...opts, duration: 2 });
          current = await load({ ...opts, duration: seconds });
        } finally {
          await svc.stop();
        }
      } finally {
        await db?.drop();
      }
      const bare = await startBare();
      let bareResult: LoadResult;
      try {
        await load({ url: `${bare.base}/bare`, connections, duration: 2 });
        bareResult = await load({ url: `${bare.base}/bare`, connections, duration: seconds });
      } finally {
        await bare.stop();
      }
      const ratio = round(current.reqPerSec / bareResult.reqPerSec, 3);
      return {
        figures: { engine, current, bare: bareResult, ratio, cpus: availableParallelism() },
        targets: [
          { name: 'sessions/current req/s vs bare Fastify', target: '>= 0.60', measured: ratio, met: ratio >= 0.6 && current.non2xx === 0 },
          { name: 'sessions/current p99 latency, ms', target: '<= 10', measured: current.latencyMs.p99, met: current.latencyMs.p99 <= 10 },
        ],
      };
    },
  };
}

// session-pg needs PostgreSQL (LATCHKEY_TEST_PG_URL, default the local trust-auth server); it makes and drops its own database.
export const scenarios: Scenario[] = [signIn, currentSession('sqlite'), currentSession('postgres')];
