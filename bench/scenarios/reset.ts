// Forgot-password load figures (not part of npm test):
//   1. ENUM-02 timing: 200 alternating requests for existing and unknown identifiers; the two
//      medians must be within 5% of each other.
//   2. Throughput of POST /api/v1/password-resets with CAPTCHA off (target >= 3,000 req/s).
//   3. p99 of the same request with an SMTP server answering 2 s late vs a fast one (target
//      ratio <= 1.1): the response never waits on mail.
// Latchkey runs as a separate `latchkey serve` process on a temp SQLite file, so the load
// generator does not share its event loop. Run: `npx tsx bench/scenarios/reset.ts`.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTINGS } from '../../src/config/schema.ts';
import { activeAccount, type ChildServer, spawnLatchkey } from '../../test/recovery/helpers.ts';
import { SmtpReceiver } from '../../test/support/smtp.ts';

// autocannon ships no types; this is the part of its API used here.
interface LoadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  setupRequest?: (req: LoadRequest) => LoadRequest;
}
interface LoadResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: {
  url: string;
  connections: number;
  duration: number;
  requests: LoadRequest[];
}) => Promise<LoadResult>;

export interface ResetBenchResult {
  timing: { existingMedianMs: number; unknownMedianMs: number; differencePct: number; pass: boolean };
  throughput: { reqPerSec: number; non2xx: number; target: number; pass: boolean };
  slowSmtp: { fastP99Ms: number; slowP99Ms: number; ratio: number; pass: boolean };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Rate limits would turn a load test into a 429 test; scale them out of the way if the setting exists. */
function benchEnv(dir: string, smtpUrl: string): Record<string, string> {
  const env: Record<string, string> = { LATCHKEY_DATABASE_URL: join(dir, 'bench.db'), LATCHKEY_SMTP_URL: smtpUrl, LATCHKEY_LOG_LEVEL: 'error' };
  if (SETTINGS.some((s) => s.env === 'LATCHKEY_RATE_LIMIT_SCALE')) env.LATCHKEY_RATE_LIMIT_SCALE = '1000000';
  if (SETTINGS.some((s) => s.env === 'LATCHKEY_RESET_MAIL_CAP')) env.LATCHKEY_RESET_MAIL_CAP = '1000000/1h';
  return env;
}

async function post(base: string, identifier: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/password-resets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ identifier }),
  });
  await res.text();
  if (res.status !== 202) throw new Error(`unexpected ${res.status}`);
  return performance.now() - t0;
}

function load(base: string, identifiers: string[], seconds: number, connections: number): Promise<LoadResult> {
  let i = 0;
  return autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/api/v1/password-resets',
        headers: { 'content-type': 'application/json', origin: base },
        setupRequest: (req) => {
          req.body = JSON.stringify({ identifier: identifiers[i++ % identifiers.length] });
          return req;
        },
      },
    ],
  });
}

export async function runResetBench(log: (line: string) => void = console.log): Promise<ResetBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const smtp = await new SmtpReceiver().start();
  let server: ChildServer | undefined;
  try {
    server = await spawnLatchkey(benchEnv(dir, smtp.url));
    const accounts = [];
    for (let n = 0; n < 20; n++) accounts.push(await activeAccount(server, smtp, `bench${n}`));
    const existing = accounts.map((a) => a.email);
    const unknown = accounts.map((_, n) => `nobody${n}@example.test`);

    // 1. ENUM-02 timing
    for (let n = 0; n < 20; n++) await post(server.base, n % 2 ? existing[n % 20] : unknown[n % 20]); // warm-up
    const tE: number[] = [];
    const tU: number[] = [];
    for (let n = 0; n < 200; n++) {
      if (n % 2) tE.push(await post(server.base, existing[n % 20]));
      else tU.push(await post(server.base, unknown[n % 20]));
    }
    const mE = median(tE);
    const mU = median(tU);
    const differencePct = (Math.abs(mE - mU) / Math.min(mE, mU)) * 100;
    const timing = { existingMedianMs: mE, unknownMedianMs: mU, differencePct, pass: differencePct <= 5 };
    log(`reset timing: existing median ${mE.toFixed(2)} ms, unknown median ${mU.toFixed(2)} ms, difference ${differencePct.toFixed(1)}% (target <= 5%)`);

    // 2. throughput, half existing and half unknown identifiers
    const mixed = existing.flatMap((e, n) => [e, unknown[n]]);
    const tp = await load(server.base, mixed, 10, 50);
    const throughput = { reqPerSec: tp.requests.average, non2xx: tp.non2xx, target: 3000, pass: tp.requests.average >= 3000 && tp.non2xx === 0 };
    log(`reset throughput: ${tp.requests.average.toFixed(0)} req/s (target >= 3000), p99 ${tp.latency.p99} ms, non-2xx ${tp.non2xx}`);

    // 3. p99 with a fast and with a 2 s late SMTP server, existing accounts only (every request mails)
    await new Promise((r) => setTimeout(r, 3000)); // let the backlog from (2) drain a little
    // Alternating rounds, so a burst of load from elsewhere on the machine hits both sides alike.
    const fastP99: number[] = [];
    const slowP99: number[] = [];
    for (let round = 0; round < 3; round++) {
      smtp.delayMs = 0;
      fastP99.push((await load(server.base, existing, 5, 10)).latency.p99);
      smtp.delayMs = 2000;
      slowP99.push((await load(server.base, existing, 5, 10)).latency.p99);
    }
    smtp.delayMs = 0;
    const fast = { latency: { p99: median(fastP99) } };
    const slow = { latency: { p99: median(slowP99) } };
    const ratio = slow.latency.p99 / Math.max(fast.latency.p99, 1);
    const slowSmtp = { fastP99Ms: fast.latency.p99, slowP99Ms: slow.latency.p99, ratio, pass: ratio <= 1.1 };
    log(
      `reset p99 (median of 3 alternating 5 s rounds): fast SMTP ${fast.latency.p99} ms [${fastP99.join(', ')}], SMTP 2 s late ${slow.latency.p99} ms [${slowP99.join(', ')}], ratio ${ratio.toFixed(2)} (target <= 1.1)`,
    );
    return { timing, throughput, slowSmtp };
  } finally {
    await server?.kill('SIGKILL');
    await smtp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runResetBench().then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(r.timing.pass && r.throughput.pass && r.slowSmtp.pass ? 0 : 1);
    },
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}
