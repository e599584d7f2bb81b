import { availableParallelism } from 'node:os';
import { loadConfig } from '../../src/config/index.ts';
import { PasswordHasher } from '../../src/security/password-hash.ts';
// The same throw-away database the PostgreSQL test suites use (LATCHKEY_TEST_PG_URL names the server).
import { freshPostgres } from '../../test/support/pg.ts';
import { activeAccounts, sessionCookie } from '../lib/accounts.ts';
import { type CpuShare, withCpuShare } from '../lib/cpu-time.ts';
import { pinning, pinSelf } from '../lib/cpus.ts';
import { type LoadResult, load, round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { startBare, startService } from '../lib/service.ts';

// The service hashes on defaultHashThreads() threads (LATCHKEY_ARGON2_THREADS is not set here);
// raw hashing is also measured with as many threads as libuv's pool has, its old home.
const POOL = Number(process.env.UV_THREADPOOL_SIZE) || 4;

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/**
 * Raw argon2id throughput with the service's own parameters: a hash running on each of the
 * hasher's threads at all times (and as many waiting) for `seconds`, in this process while both
 * servers are idle.
 */
async function rawHashRate(hasher: PasswordHasher, seconds: number): Promise<{ perSec: number; hashes: number }> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < until) {
      await hasher.hash('bench-violet-harbor-0-quantum-meadow');
      done++;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: hasher.threads * 2 }, worker));
  return { perSec: round(done / ((Date.now() - t0) / 1000)), hashes: done };
}

/** Per slice kind, the median of each process's CPU ms per request, and of the machine's idle %. */
function cpuMedians<K extends string>(names: K[], runs: Partial<Record<K, CpuShare>>[]) {
  const out: Partial<Record<K, Record<string, number>>> = {};
  for (const name of names) {
    const seen = runs.map((r) => r[name]).filter((c): c is CpuShare => c !== undefined);
    if (seen.length !== runs.length || !seen.length) return undefined;
    const first = seen[0] as CpuShare;
    const figures: Record<string, number> = {};
    for (const who of Object.keys(first.msPerRequest)) figures[who] = median(seen.map((c) => c.msPerRequest[who] ?? 0));
    figures.idlePct = median(seen.map((c) => c.idlePct));
    out[name] = figures;
  }
  return out;
}

const signIn: Scenario = {
  name: 'signin',
  description:
    "POST /api/v1/sessions (argon2id verify + session insert) next to raw argon2id hash() throughput (on the service's hash threads and on as many as the libuv pool, the faster counts) and to bare Fastify routes that only verify, and verify with the database writes every sign-in must make, in alternating slices",
  async run({ seconds }) {
    const config = loadConfig({ LATCHKEY_DATABASE_URL: ':memory:' });
    // Raw hashing is measured two ways and the faster one is the yardstick: on as many threads
    // as the service hashes with, and on as many as libuv's pool has.
    const hasher = new PasswordHasher(config.argon2);
    const poolHasher = new PasswordHasher(config.argon2, POOL);
    // Slices of each measurement take turns, BENCH_ROUNDS times, and the medians are reported:
    // on a shared 2-core machine the same figure drifted by a tenth within a minute, and a
    // single sign-in run followed by a single raw run put all of that drift into the ratio.
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
    const svc = await startService();
    const floor = await startBare(undefined, { BENCH_ARGON2: JSON.stringify(config.argon2) });
    try {
      const accounts = await activeAccounts(svc, 8, 'signin');
      const bodies = accounts.map((a) => JSON.stringify({ identifier: a.username, password: a.password }));
      // as many as before the service had threads of its own, so figures stay comparable;
      // at least twice the service's threads, so a hash is always waiting when one finishes
      const connections = Math.max(POOL, hasher.threads) * 2;
      const json = { 'content-type': 'application/json' };
      const signin = {
        url: `${svc.base}/api/v1/sessions`,
        method: 'POST' as const,
        connections,
        headers: json,
        bodies,
      };
      const verifyOnly = {
        url: `${floor.base}/bare-verify`,
        method: 'POST' as const,
        connections,
        headers: json,
        bodies: [JSON.stringify({ password: 'bench-violet-harbor-0-quantum-meadow' })],
      };
      const withWrites = {
        ...verifyOnly,
        url: `${floor.base}/bare-signin`,
        bodies: Array.from({ length: 8 }, (_, i) =>
          JSON.stringify({ identifier: `bare${i}`, password: 'bench-violet-harbor-0-quantum-meadow' }),
        ),
      };
      // Warm-up: at a hundred sign-ins a second V8 was still compiling the sign-in path in the
      // background after two seconds (0.4 ms of other threads' CPU per sign-in, none after 20 s).
      await load({ ...signin, duration: 8 });
      await load({ ...verifyOnly, duration: 3 });
      await load({ ...withWrites, duration: 3 });
      await rawHashRate(hasher, 2);
      type Round = { signin: LoadResult; verifyOnly: LoadResult; withWrites: LoadResult; raw: number; rawPool: number };
      // Each slice also shares out its CPU time per request (or hash): the service, the floor
      // server, and this process, which is the load generator in HTTP slices and the hashing
      // itself in raw ones.
      const children = { service: svc.pid, floor: floor.pid };
      const http = (o: typeof signin) =>
        withCpuShare(
          children,
          () => load({ ...o, duration: seconds }),
          (r) => r.requests,
        );
      const rawSlice = async (h: PasswordHasher) => {
        const { result, cpu } = await withCpuShare(
          children,
          () => rawHashRate(h, seconds),
          (r) => r.hashes,
        );
        return { result: result.perSec, cpu };
      };
      const slices: { [K in keyof Round]: () => Promise<{ result: Round[K]; cpu?: CpuShare }> } = {
        signin: () => http(signin),
        verifyOnly: () => http(verifyOnly),
        withWrites: () => http(withWrites),
        raw: () => rawSlice(hasher),
        rawPool: () => rawSlice(poolHasher),
      };
      const names = Object.keys(slices) as (keyof Round)[];
      const runs: Round[] = [];
      const cpuRuns: Partial<Record<keyof Round, CpuShare>>[] = [];
      for (let r = 0; r < rounds; r++) {
        // Each round starts with a different slice, so a drift favours none of them.
        const run: Partial<Record<keyof Round, unknown>> = {};
        const cpu: Partial<Record<keyof Round, CpuShare>> = {};
        for (let i = 0; i < names.length; i++) {
          const name = names[(i + r) % names.length] as keyof Round;
          const slice = await slices[name]();
          run[name] = slice.result;
          if (slice.cpu) cpu[name] = slice.cpu;
        }
        runs.push(run as Round);
        cpuRuns.push(cpu);
      }
      if (runs.some((x) => x.verifyOnly.non2xx || x.withWrites.non2xx))
        throw new Error('a floor route answered other than 2xx, so its figure is no floor');
      const best = (x: Round) => Math.max(x.raw, x.rawPool);
      const ratios = runs.map((x) => round(x.signin.reqPerSec / best(x), 3));
      const floorRatios = runs.map((x) => round(x.verifyOnly.reqPerSec / best(x), 3));
      const writesFloorRatios = runs.map((x) => round(x.withWrites.reqPerSec / best(x), 3));
      const ratio = median(ratios);
      return {
        figures: {
          signin: { reqPerSecMedian: median(runs.map((x) => x.signin.reqPerSec)), runs: runs.map((x) => x.signin) },
          // per round, the faster of the two raw figures is the yardstick
          raw: { hashesPerSecMedian: median(runs.map(best)), runs: runs.map(best), params: config.argon2 },
          rawAtServiceThreads: {
            threads: hasher.threads,
            hashesPerSecMedian: median(runs.map((x) => x.raw)),
            runs: runs.map((x) => x.raw),
          },
          rawAtPoolSize: {
            threads: POOL,
            hashesPerSecMedian: median(runs.map((x) => x.rawPool)),
            runs: runs.map((x) => x.rawPool),
          },
          verifyOnly: {
            reqPerSecMedian: median(runs.map((x) => x.verifyOnly.reqPerSec)),
            runs: runs.map((x) => x.verifyOnly),
          },
          ratios,
          ratio,
          // What HTTP alone leaves of raw hashing on this machine: the ceiling of any sign-in.
          floorRatios,
          floorRatio: median(floorRatios),
          // The same with the database work SECURITY.md requires of every sign-in, on bare
          // better-sqlite3: the ceiling of any sign-in that keeps it.
          withWrites: {
            reqPerSecMedian: median(runs.map((x) => x.withWrites.reqPerSec)),
            runs: runs.map((x) => x.withWrites),
          },
          writesFloorRatios,
          writesFloorRatio: median(writesFloorRatios),
          // sign-in ÷ that ceiling, round by round: what Latchkey's own code leaves of it
          ofWritesFloor: median(runs.map((x) => round(x.signin.reqPerSec / x.withWrites.reqPerSec, 3))),
          // CPU ms per request (per hash in the raw slices), medians of rounds; absent off Linux
          cpuMsPerRequest: cpuMedians(names, cpuRuns),
          cpus: availableParallelism(),
        },
        targets: [
          {
            name: 'sign-in req/s vs raw argon2id hashes/s, the faster of two concurrencies (median of rounds)',
            target: '>= 0.90',
            measured: ratio,
            met: ratio >= 0.9 && runs.every((x) => x.signin.non2xx === 0),
          },
        ],
      };
    } finally {
      await Promise.all([hasher.close(), poolHasher.close()]);
      await floor.stop();
      await svc.stop();
    }
  },
};

function currentSession(engine: 'sqlite' | 'postgres'): Scenario {
  return {
    name: engine === 'sqlite' ? 'session' : 'session-pg',
    description: `GET /api/v1/sessions/current at 50 connections on ${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'} next to a bare Fastify route started the same way, in rounds of fresh processes, each measuring both in alternating short slices`,
    async run({ seconds }) {
      const connections = 50;
      // Rounds of fresh processes: identical server processes measured up to a fifth apart here.
      // Within a round both servers take turns in short slices, each pair starting with the
      // other one: on a shared 2-core machine the speed of the same process drifted by a third
      // within ten seconds, and a single long run of each put all of that into the ratio.
      const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
      const pairs = Number(process.env.BENCH_PAIRS ?? 5);
      // each server is measured for `seconds` per round in all, in `pairs` slices
      const slice = Math.max(1, Math.round(seconds / pairs));
      const pin = pinning();
      const db = engine === 'postgres' ? await freshPostgres() : undefined;
      type Pair = { current: LoadResult; bare: LoadResult; cpu: { current?: CpuShare; bare?: CpuShare } };
      const done: Pair[][] = [];
      try {
        if (pin) pinSelf(pin.generator);
        for (let r = 0; r < rounds; r++) {
          // Both servers on the same core; the one not measured sits idle there meanwhile, and
          // its share of that core is reported (`cpuMsPerRequest`, the idle one's figure).
          const bare = await startBare(pin?.server);
          const svc = await startService(
            db ? { LATCHKEY_DATABASE_URL: db.url } : {},
            process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [],
            // PostgreSQL itself needs a core of its own, so only the Node servers are pinned.
            pin?.server,
          );
          try {
            const [a] = await activeAccounts(svc, 1, `session${r}x`);
            const cookie = await sessionCookie(svc, a);
            const targets = {
              current: { url: `${svc.base}/api/v1/sessions/current`, connections, headers: { cookie } },
              bare: { url: `${bare.base}/bare`, connections },
            };
            // warm up: JIT, SQLite page cache
            await load({ ...targets.bare, duration: 2 });
            await load({ ...targets.current, duration: 2 });
            const children = { current: svc.pid, bare: bare.pid };
            const measured: Pair[] = [];
            for (let i = 0; i < pairs; i++) {
              const pair: Partial<Pair> & { cpu: Pair['cpu'] } = { cpu: {} };
              const order: ('current' | 'bare')[] = (i + r) % 2 ? ['current', 'bare'] : ['bare', 'current'];
              for (const which of order) {
                const { result, cpu } = await withCpuShare(
                  children,
                  () => load({ ...targets[which], duration: slice }),
                  (x) => x.requests,
                );
                pair[which] = result;
                pair.cpu[which] = cpu;
              }
              measured.push(pair as Pair);
            }
            done.push(measured);
          } finally {
            await svc.stop();
            await bare.stop();
          }
        }
      } finally {
        if (pin) pinSelf(pin.all);
        await db?.drop();
      }
      const all = done.flat();
      const ratios = all.map((p) => round(p.current.reqPerSec / p.bare.reqPerSec, 3));
      const ratio = median(ratios);
      const p99 = median(all.map((p) => p.current.latencyMs.p99));
      const summary = (runs: LoadResult[]) => ({
        reqPerSecMedian: median(runs.map((x) => x.reqPerSec)),
        p99MsMedian: median(runs.map((x) => x.latencyMs.p99)),
        runs,
      });
      // CPU of the measured server per request, each slice's own: what each answer costs,
      // whatever share of its core the machine granted meanwhile.
      const own = (p: Pair, which: 'current' | 'bare') => p.cpu[which]?.msPerRequest[which];
      const cpuPairs = all.filter((p) => own(p, 'current') !== undefined && own(p, 'bare') !== undefined);
      const cpuMsPerRequest = cpuPairs.length
        ? {
            ...cpuMedians(
              ['current', 'bare'],
              cpuPairs.map((p) => p.cpu),
            ),
            // bare's CPU per request ÷ the session check's, pair by pair: the ratio in CPU terms
            ratio: median(cpuPairs.map((p) => round((own(p, 'bare') as number) / (own(p, 'current') as number), 3))),
          }
        : undefined;
      return {
        figures: {
          engine,
          current: summary(all.map((p) => p.current)),
          bare: summary(all.map((p) => p.bare)),
          // per round, the median of its pairs' ratios
          roundRatios: done.map((pairsOfRound) =>
            median(pairsOfRound.map((p) => round(p.current.reqPerSec / p.bare.reqPerSec, 3))),
          ),
          ratios,
          ratio,
          cpuMsPerRequest,
          slices: { rounds, pairs, seconds: slice },
          pinned: pin ? { server: pin.server, generator: pin.generator } : 'no',
          cpus: availableParallelism(),
        },
        targets: [
          {
            name: 'sessions/current req/s vs bare Fastify (median of all pairs of slices)',
            target: '>= 0.60',
            measured: ratio,
            met: ratio >= 0.6 && all.every((p) => p.current.non2xx === 0),
          },
          {
            name: 'sessions/current p99 latency, ms (median of slices)',
            target: '<= 10',
            measured: p99,
            met: p99 <= 10,
          },
        ],
      };
    },
  };
}

// session-pg needs PostgreSQL (LATCHKEY_TEST_PG_URL, default the local trust-auth server); it makes and drops its own database.
export const scenarios: Scenario[] = [signIn, currentSession('sqlite'), currentSession('postgres')];
