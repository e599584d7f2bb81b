// Passkey sign-in figures (not part of npm test): a sign-in is two requests, POST
// /api/v1/sessions/passkey/options then POST /api/v1/sessions/passkey with an assertion an
// in-process software authenticator (ES256, node:crypto; test/support/webauthn.ts) signs, and it
// ends in a new session like every sign-in. Measured next to GET /api/v1/sessions/current in the
// same run, both with the same closed-loop fetch client and in alternating slices, so the ratio
// does not depend on the load generator.
//   npm run bench -- passkey
import { SoftAuthenticator } from '../../test/support/webauthn.ts';
import { activeAccounts, sessionCookie } from '../lib/accounts.ts';
import { round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { type Child, startService } from '../lib/service.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0, 2);
};

interface User {
  key: SoftAuthenticator;
  session: string;
}

const headers = (base: string, cookie?: string) => ({
  origin: base,
  'content-type': 'application/json',
  accept: 'application/json',
  ...(cookie ? { cookie } : {}),
});

/** One passkey per account, added the way /settings does it (the session of a password sign-in). */
async function enrol(svc: Child, n: number): Promise<User[]> {
  const users: User[] = [];
  for (const a of await activeAccounts(svc, n, 'passkey')) {
    const session = await sessionCookie(svc, a);
    const key = new SoftAuthenticator(svc.base, new URL(svc.base).hostname);
    const o = await fetch(`${svc.base}/api/v1/account/factors/passkeys/options`, {
      method: 'POST',
      headers: headers(svc.base, session),
      body: '{}',
    });
    if (o.status !== 200) throw new Error(`passkey options: ${o.status} ${await o.text()}`);
    const r = await fetch(`${svc.base}/api/v1/account/factors/passkeys`, {
      method: 'POST',
      headers: headers(svc.base, session),
      body: JSON.stringify({ name: 'bench', response: key.create(await o.json()) }),
    });
    if (r.status !== 201) throw new Error(`passkey registration: ${r.status} ${await r.text()}`);
    users.push({ key, session });
  }
  return users;
}

interface Slice {
  perSec: number;
  requestsPerSec: number;
  done: number;
  failed: number;
  latencyMs: { p50: number; p99: number };
}

/**
 * Every user signs in with its passkey again and again for `seconds` (one loop per user, so one
 * credential's counter is never raced by itself); a sign-in counts when the second request is 201.
 */
async function passkeySignIns(svc: Child, users: User[], seconds: number): Promise<Slice> {
  const until = performance.now() + seconds * 1000;
  const lat: number[] = [];
  let done = 0;
  let failed = 0;
  await Promise.all(
    users.map(async (u) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const o = await fetch(`${svc.base}/api/v1/sessions/passkey/options`, {
          method: 'POST',
          headers: headers(svc.base),
          body: '{}',
        });
        const options = await o.json();
        const r = await fetch(`${svc.base}/api/v1/sessions/passkey`, {
          method: 'POST',
          headers: headers(svc.base),
          body: JSON.stringify({ response: u.key.get(options) }),
        });
        await r.arrayBuffer();
        if (r.status === 201) done++;
        else failed++;
        lat.push(performance.now() - t0);
      }
    }),
  );
  return {
    perSec: round(done / seconds),
    requestsPerSec: round((2 * (done + failed)) / seconds),
    done,
    failed,
    latencyMs: { p50: pct(lat, 50), p99: pct(lat, 99) },
  };
}

/** The session check with the same client and as many loops. */
async function sessionChecks(svc: Child, users: User[], seconds: number): Promise<Slice> {
  const until = performance.now() + seconds * 1000;
  const lat: number[] = [];
  let done = 0;
  let failed = 0;
  await Promise.all(
    users.map(async (u) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const r = await fetch(`${svc.base}/api/v1/sessions/current`, { headers: { cookie: u.session } });
        await r.arrayBuffer();
        if (r.status === 200) done++;
        else failed++;
        lat.push(performance.now() - t0);
      }
    }),
  );
  return {
    perSec: round(done / seconds),
    requestsPerSec: round((done + failed) / seconds),
    done,
    failed,
    latencyMs: { p50: pct(lat, 50), p99: pct(lat, 99) },
  };
}

export const scenarios: Scenario[] = [
  {
    name: 'passkey',
    description:
      'passkey sign-in (options + verify with an in-process ES256 software authenticator, ending in a session) per second, next to GET /api/v1/sessions/current with the same fetch client, in alternating slices on SQLite',
    async run({ seconds }) {
      const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
      const loops = Number(process.env.BENCH_PASSKEY_LOOPS ?? 8);
      const svc = await startService();
      try {
        const users = await enrol(svc, loops);
        // warm-up: JIT, SQLite page cache
        await passkeySignIns(svc, users, 2);
        await sessionChecks(svc, users, 2);
        const runs: { passkey: Slice; session: Slice }[] = [];
        for (let r = 0; r < rounds; r++) {
          const order = r % 2 ? (['session', 'passkey'] as const) : (['passkey', 'session'] as const);
          const run: Partial<{ passkey: Slice; session: Slice }> = {};
          for (const which of order)
            run[which] =
              which === 'passkey'
                ? await passkeySignIns(svc, users, seconds)
                : await sessionChecks(svc, users, seconds);
          runs.push(run as { passkey: Slice; session: Slice });
        }
        const ratios = runs.map((x) => round(x.passkey.perSec / x.session.perSec, 3));
        const failed = runs.reduce((a, x) => a + x.passkey.failed + x.session.failed, 0);
        const signInsPerSec = median(runs.map((x) => x.passkey.perSec));
        return {
          figures: {
            concurrentLoops: loops,
            passkeySignIn: {
              signInsPerSecMedian: signInsPerSec,
              requestsPerSecMedian: median(runs.map((x) => x.passkey.requestsPerSec)),
              p50MsMedian: median(runs.map((x) => x.passkey.latencyMs.p50)),
              p99MsMedian: median(runs.map((x) => x.passkey.latencyMs.p99)),
              runs: runs.map((x) => x.passkey),
            },
            sessionCheck: {
              reqPerSecMedian: median(runs.map((x) => x.session.perSec)),
              p99MsMedian: median(runs.map((x) => x.session.latencyMs.p99)),
              runs: runs.map((x) => x.session),
            },
            // passkey sign-ins/s ÷ session checks/s, round by round
            ratios,
            ratio: median(ratios),
          },
          targets: [
            {
              name: 'passkey sign-ins (options + verify) per second, every one answered 201',
              target: '> 0, no failures',
              measured: signInsPerSec,
              met: signInsPerSec > 0 && failed === 0,
            },
          ],
        };
      } finally {
        await svc.stop();
      }
    },
  },
];
