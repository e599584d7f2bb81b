// reset-code-timing (ENUM-04): completing a reset by code with a wrong code, alternating a real
// account that has a live code with an unknown identifier. An attacker who can tell the two
// apart by response time learns which identifiers exist. Prints both medians and a
// Mann-Whitney z over the alternating samples (|z| < 1.96: no difference at the 5 % level).
// A figure, not a test: no test may fail on timing; test/recovery/reset-code-work.test.ts
// proves the equal work structurally.
import { activeAccount } from '../../test/recovery/helpers.ts';
import { Client } from '../../test/support/http.ts';
import { freshPostgres, postgresAvailable } from '../../test/support/pg.ts';
import { SmtpReceiver } from '../../test/support/smtp.ts';
import { round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { startService } from '../lib/service.ts';

/** A code takes 5 wrong tries (REC-06); each real account gives that many samples with a live code. */
const TRIES_PER_ACCOUNT = 5;
const SAMPLES = Number(process.env.BENCH_RESET_CODE_SAMPLES ?? 400);
const PAUSE_MS = 2;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Mann-Whitney U of `a` against `b` as a z score (normal approximation, ties given their mean
 * rank; the tie correction is left out, as ties of float milliseconds are rare). Negative: the
 * values of `a` tend to be smaller.
 */
export function mannWhitneyZ(a: number[], b: number[]): number {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    for (let k = i; k <= j; k++) ranks[k] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let rankSumA = 0;
  for (let i = 0; i < all.length; i++) if (all[i].g === 0) rankSumA += ranks[i];
  const n1 = a.length;
  const n2 = b.length;
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  return (u - (n1 * n2) / 2) / Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12);
}

async function timedComplete(base: string, identifier: string): Promise<number> {
  const body = JSON.stringify({ identifier, code: 'ZZZZ-ZZZZ', password: 'bench-violet-harbor-quantum-meadow-1' });
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/password-resets/complete`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body,
  });
  await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 400) throw new Error(`reset completion answered ${res.status}`);
  return ms;
}

/** The scenario on SQLite, or on a fresh PostgreSQL database (where a commit that changed rows pays a WAL flush). */
const resetCodeTiming = (engine: 'sqlite' | 'postgres'): Scenario => ({
  name: engine === 'sqlite' ? 'reset-code-timing' : 'reset-code-timing-postgres',
  description: `ENUM-04: wrong-code completions, real account with a live code vs unknown identifier, alternating; medians and Mann-Whitney z (${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`,
  async run() {
    if (engine === 'postgres' && !(await postgresAvailable()))
      return { figures: { skipped: 'PostgreSQL not available' } };
    const pg = engine === 'postgres' ? await freshPostgres() : undefined;
    const smtp = await new SmtpReceiver().start();
    const svc = await startService({
      LATCHKEY_SMTP_URL: smtp.url,
      LATCHKEY_RESET_MAIL_CAP: '1000000/1h',
      LATCHKEY_OUTBOX_BACKOFF_BASE: '200ms',
      ...(pg ? { LATCHKEY_DATABASE_URL: pg.url } : {}),
    });
    try {
      const server = { client: () => new Client(svc.base, svc.base) };
      const accounts = Math.ceil(SAMPLES / 2 / TRIES_PER_ACCOUNT) + 1;
      const real: string[] = [];
      for (let n = 0; n < accounts; n++) {
        const a = await activeAccount(server, smtp, `codebench${n}`);
        const res = await server.client().post('/api/v1/password-resets', { identifier: a.email });
        if (res.status !== 202) throw new Error(`reset request answered ${res.status}`);
        await smtp.waitFor((m) => m.to.includes(a.email) && /Reset your password/.test(m.subject));
        real.push(a.email);
      }
      // Warm-up on the spare account, whose tries are then used up.
      const spare = real.pop() as string;
      for (let n = 0; n < 2 * TRIES_PER_ACCOUNT; n++)
        await timedComplete(svc.base, n % 2 ? spare : `nobody-warm${n}@example.test`);
      const tReal: number[] = [];
      const tUnknown: number[] = [];
      for (let n = 0; n < SAMPLES; n++) {
        const i = n >> 1;
        if (n % 2) tReal.push(await timedComplete(svc.base, real[Math.floor(i / TRIES_PER_ACCOUNT)] as string));
        else tUnknown.push(await timedComplete(svc.base, `nobody${i}@example.test`));
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
      const z = round(mannWhitneyZ(tUnknown, tReal), 2);
      return {
        figures: {
          realMedianMs: round(median(tReal), 3),
          unknownMedianMs: round(median(tUnknown), 3),
          mannWhitneyZ: z,
          samples: SAMPLES,
          pauseBetweenMs: PAUSE_MS,
        },
        targets: [
          {
            name: '|Mann-Whitney z| unknown vs real',
            target: '< 1.96',
            measured: Math.abs(z),
            met: Math.abs(z) < 1.96,
          },
        ],
      };
    } finally {
      await svc.stop();
      await smtp.stop();
      await pg?.drop();
    }
  },
});

export const scenarios: Scenario[] = [resetCodeTiming('sqlite'), resetCodeTiming('postgres')];
