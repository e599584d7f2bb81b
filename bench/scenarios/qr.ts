import { spawn } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { activeAccounts, sessionCookie } from '../lib/accounts.ts';
import { type LoadResult, load, round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { type Child, startService } from '../lib/service.ts';

// QR sign-in's cost (issue 19): 200 browsers waiting on /login/qr poll GET /api/v1/qr-logins/{id}
// at the interval the server gives them (RFC 8628), while the session check runs flat out next
// to them in the same run. Polling must not become the service's main cost.

const BROWSERS = 200;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** `n` waiting requests, each with the binding cookie of its own browser. */
async function startRequests(svc: Child, n: number): Promise<{ id: string; cookie: string }[]> {
  const out: { id: string; cookie: string }[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${svc.base}/api/v1/qr-logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: svc.base },
      body: '{}',
    });
    if (res.status !== 201) throw new Error(`POST /api/v1/qr-logins: ${res.status} ${await res.text()}`);
    const cookie = res.headers
      .getSetCookie()
      .find((c) => c.startsWith('latchkey_qr='))
      ?.split(';')[0];
    if (!cookie) throw new Error('no binding cookie');
    out.push({ id: ((await res.json()) as { id: string }).id, cookie });
  }
  return out;
}

interface PollStats {
  polls: number;
  pollsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  statuses: Record<string, number>;
}

/** bench/lib/waiting-browsers.ts in a process of its own, polling for `seconds`. */
function waitingBrowsers(
  svc: Child,
  reqs: { id: string; cookie: string }[],
  seconds: number,
  nullPoll = false,
): Promise<PollStats> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '..', 'lib', 'waiting-browsers.ts')],
    {
      env: {
        ...process.env,
        NODE_NO_WARNINGS: '1',
        BENCH_BASE: svc.base,
        BENCH_REQUESTS: JSON.stringify(reqs),
        BENCH_POLL_SECONDS: String(seconds),
        BENCH_POLL_NULL: nullPoll ? '1' : '0',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`waiting browsers exited with ${code}`);
        const s = JSON.parse(out) as PollStats;
        resolve({ ...s, pollsPerSec: round(s.pollsPerSec), p50Ms: round(s.p50Ms, 2), p99Ms: round(s.p99Ms, 2) });
      } catch (err) {
        reject(err);
      }
    }),
  );
}

const qr: Scenario = {
  name: 'qr',
  description: `GET /api/v1/sessions/current at 50 connections alone and next to ${BROWSERS} browsers waiting on a QR sign-in (polling at the server's interval), in alternating slices of one run; then the poll route flat out`,
  async run({ seconds }) {
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
    const svc = await startService({ LATCHKEY_QR_TTL: '120' });
    try {
      const [a] = await activeAccounts(svc, 1, 'qrbench');
      const cookie = await sessionCookie(svc, a);
      const current = { url: `${svc.base}/api/v1/sessions/current`, connections: 50, headers: { cookie } };
      await load({ ...current, duration: 2 }); // warm up
      const alone: LoadResult[] = [];
      const withPolls: LoadResult[] = [];
      const withNull: LoadResult[] = [];
      const pollRuns: PollStats[] = [];
      for (let r = 0; r < rounds; r++) {
        // fresh requests each round: they live at most 2 minutes (QR-01)
        const reqs = await startRequests(svc, BROWSERS);
        const order = [
          ['alone', 'with', 'null'],
          ['with', 'null', 'alone'],
          ['null', 'alone', 'with'],
        ][r % 3] as string[];
        for (const which of order) {
          if (which === 'alone') alone.push(await load({ ...current, duration: seconds }));
          else if (which === 'null') {
            // The yardstick: the same 200 browsers in the same kind of process, polling /healthz.
            const browsers = waitingBrowsers(svc, reqs, seconds + 4, true);
            await new Promise((r) => setTimeout(r, 2500));
            withNull.push(await load({ ...current, duration: seconds }));
            await browsers;
          } else {
            // The browsers start polling (one interval to spread out) before the measured run
            // begins and stop after it ends.
            const browsers = waitingBrowsers(svc, reqs, seconds + 4);
            await new Promise((r) => setTimeout(r, 2500));
            withPolls.push(await load({ ...current, duration: seconds }));
            pollRuns.push(await browsers);
          }
        }
      }
      // The poll route flat out: each of 200 connections cycles through the 200 requests with
      // their own cookies (most answers are then slow_down, after the same row lookup).
      const reqs = await startRequests(svc, BROWSERS);
      const flat = await autocannon({
        url: svc.base,
        connections: BROWSERS,
        duration: seconds,
        timeout: 10,
        requests: reqs.map(({ id, cookie: c }) => ({
          method: 'GET',
          path: `/api/v1/qr-logins/${id}`,
          headers: { cookie: c },
        })),
      });
      const aloneRps = median(alone.map((x) => x.reqPerSec));
      const withRps = median(withPolls.map((x) => x.reqPerSec));
      const ratio = round(withRps / aloneRps, 3);
      const nullRps = median(withNull.map((x) => x.reqPerSec));
      // What the poll route itself costs: the session check next to real polls against next to
      // the same browsers polling a route that does nothing.
      const ofNull = round(withRps / nullRps, 3);
      const withP99 = median(withPolls.map((x) => x.latencyMs.p99));
      return {
        figures: {
          browsers: BROWSERS,
          sessionCheckAlone: { reqPerSec: aloneRps, p99Ms: median(alone.map((x) => x.latencyMs.p99)), runs: alone },
          sessionCheckWithPolling: { reqPerSec: withRps, p99Ms: withP99, runs: withPolls },
          ratio,
          sessionCheckWithNullPolling: {
            reqPerSec: nullRps,
            p99Ms: median(withNull.map((x) => x.latencyMs.p99)),
            runs: withNull,
          },
          ofNullPolling: ofNull,
          polling: {
            pollsPerSec: median(pollRuns.map((p) => p.pollsPerSec)),
            p50Ms: median(pollRuns.map((p) => p.p50Ms)),
            p99Ms: median(pollRuns.map((p) => p.p99Ms)),
            runs: pollRuns,
          },
          pollFlatOut: {
            connections: BROWSERS,
            reqPerSec: round(flat.requests.total / seconds),
            latencyMs: { p50: flat.latency.p50, p99: flat.latency.p99 },
            non2xx: flat.non2xx,
            errors: flat.errors,
          },
        },
        targets: [
          {
            name: 'session check next to 200 polling browsers, share of the same browsers polling /healthz',
            target: '>= 0.9',
            measured: ofNull,
            met: ofNull >= 0.9,
          },
          {
            name: 'session check next to 200 waiting browsers, share of alone',
            target: '>= 0.9',
            measured: ratio,
            met: ratio >= 0.9,
          },
          {
            name: 'session check p99 next to 200 waiting browsers (ms)',
            target: '<= 10',
            measured: withP99,
            met: withP99 <= 10,
          },
        ],
      };
    } finally {
      await svc.stop();
    }
  },
};

export const scenarios: Scenario[] = [qr];
