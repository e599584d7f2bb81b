// Forgot-password figures (not part of npm test), each against its own `latchkey serve` child
// whose mail goes to a real SMTP receiver in this process:
//   reset-timing      ENUM-02: 200 alternating requests for existing and unknown identifiers;
//                     the two medians within 5% of each other.
//   reset-throughput  POST /api/v1/password-resets with CAPTCHA off, half existing and half
//                     unknown identifiers (target >= 3,000 req/s).
//   reset-smtp        p99 of the same request with an SMTP server answering 2 s late vs a fast
//                     one (target ratio <= 1.1): the response never waits on mail.
import { activeAccount, type TestAccount } from '../../test/recovery/helpers.ts';
import { Client } from '../../test/support/http.ts';
import { SmtpReceiver } from '../../test/support/smtp.ts';
import { type LoadResult, load, round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { type Child, startService } from '../lib/service.ts';

const ACCOUNTS = 20;
const PAUSE_MS = 20;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface ResetService {
  svc: Child;
  smtp: SmtpReceiver;
  existing: string[];
  unknown: string[];
}

async function withResetService<T>(fn: (s: ResetService) => Promise<T>): Promise<T> {
  const smtp = await new SmtpReceiver().start();
  // the mail quota is not scaled by LATCHKEY_RATE_LIMIT_SCALE; a load test would hit it at once
  const svc = await startService({
    LATCHKEY_SMTP_URL: smtp.url,
    LATCHKEY_RESET_MAIL_CAP: '1000000/1h',
    LATCHKEY_OUTBOX_BACKOFF_BASE: '200ms',
  });
  try {
    const server = { client: () => new Client(svc.base, svc.base) };
    const accounts: TestAccount[] = [];
    for (let n = 0; n < ACCOUNTS; n++) accounts.push(await activeAccount(server, smtp, `resetbench${n}`));
    return await fn({
      svc,
      smtp,
      existing: accounts.map((a) => a.email),
      unknown: accounts.map((_, n) => `nobody${n}@example.test`),
    });
  } finally {
    await svc.stop();
    await smtp.stop();
  }
}

async function timedRequest(base: string, identifier: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/password-resets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ identifier }),
  });
  await res.text();
  if (res.status !== 202) throw new Error(`password reset request answered ${res.status}`);
  return performance.now() - t0;
}

function resetLoad(base: string, identifiers: string[], connections: number, duration: number): Promise<LoadResult> {
  return load({
    url: `${base}/api/v1/password-resets`,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json', origin: base },
    bodies: identifiers.map((identifier) => JSON.stringify({ identifier })),
  });
}

const timing: Scenario = {
  name: 'reset-timing',
  description: 'ENUM-02: medians of 200 alternating reset requests for existing and unknown identifiers',
  run: () =>
    withResetService(async ({ svc, existing, unknown }) => {
      for (let n = 0; n < 20; n++) await timedRequest(svc.base, n % 2 ? existing[n] : unknown[n]); // warm-up
      const tE: number[] = [];
      const tU: number[] = [];
      for (let n = 0; n < 200; n++) {
        if (n % 2) tE.push(await timedRequest(svc.base, existing[n % ACCOUNTS]));
        else tU.push(await timedRequest(svc.base, unknown[n % ACCOUNTS]));
        // The background job of an existing account (token, mail, SMTP) would otherwise land on
        // the next request, which is always the other kind; the pause measures each response alone.
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
      const existingMedianMs = round(median(tE), 3);
      const unknownMedianMs = round(median(tU), 3);
      const differencePct = round(
        (Math.abs(existingMedianMs - unknownMedianMs) / Math.min(existingMedianMs, unknownMedianMs)) * 100,
        2,
      );
      return {
        figures: { existingMedianMs, unknownMedianMs, differencePct, requests: 200, pauseBetweenMs: PAUSE_MS },
        targets: [
          {
            name: 'median difference existing vs unknown (%)',
            target: '<= 5',
            measured: differencePct,
            met: differencePct <= 5,
          },
        ],
      };
    }),
};

const throughput: Scenario = {
  name: 'reset-throughput',
  description:
    'POST /api/v1/password-resets at 50 connections, CAPTCHA off, half existing and half unknown identifiers',
  run: ({ seconds }) =>
    withResetService(async ({ svc, existing, unknown }) => {
      const mixed = existing.flatMap((e, n) => [e, unknown[n]]);
      await resetLoad(svc.base, mixed, 50, 2); // warm-up
      const r = await resetLoad(svc.base, mixed, 50, seconds);
      return {
        figures: { load: r },
        targets: [
          {
            name: 'reset requests per second',
            target: '>= 3000',
            measured: r.reqPerSec,
            met: r.reqPerSec >= 3000 && r.non2xx === 0,
          },
        ],
      };
    }),
};

const slowSmtp: Scenario = {
  name: 'reset-smtp',
  description: 'p99 of reset requests (existing accounts: every one mails) with SMTP answering 2 s late vs at once',
  run: ({ seconds }) =>
    withResetService(async ({ svc, smtp, existing }) => {
      const round_s = Math.max(3, Math.round(seconds / 2));
      await resetLoad(svc.base, existing, 10, 2); // warm-up
      // alternating rounds, so a burst of load from elsewhere on the machine hits both sides alike
      const fastRounds: LoadResult[] = [];
      const slowRounds: LoadResult[] = [];
      for (let i = 0; i < 3; i++) {
        smtp.delayMs = 0;
        fastRounds.push(await resetLoad(svc.base, existing, 10, round_s));
        smtp.delayMs = 2000;
        slowRounds.push(await resetLoad(svc.base, existing, 10, round_s));
      }
      smtp.delayMs = 0;
      const fast = fastRounds.map((r) => r.latencyMs.p99);
      const slow = slowRounds.map((r) => r.latencyMs.p99);
      const fastP99Ms = median(fast);
      const slowP99Ms = median(slow);
      const ratio = round(slowP99Ms / Math.max(fastP99Ms, 1), 2);
      return {
        figures: { fastP99Ms, slowP99Ms, fastRounds, slowRounds, secondsPerRound: round_s, connections: 10 },
        targets: [
          { name: 'p99 with 2 s late SMTP / p99 with fast SMTP', target: '<= 1.1', measured: ratio, met: ratio <= 1.1 },
        ],
      };
    }),
};

export const scenarios: Scenario[] = [timing, throughput, slowSmtp];
