// Support-request figures (not part of npm test), against its own `latchkey serve` child:
//   support   ADM-08: 200 alternating POST /api/v1/support-requests for existing and unknown
//             identifiers; the two medians within 5% of each other. The account lookup, stored
//             request, review item and acknowledgement mail run in a job after the answer; the
//             next request waits for that job, so each answer is timed alone.
import { activeAccounts } from '../lib/accounts.ts';
import { round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { startService } from '../lib/service.ts';

const ACCOUNTS = 20;
const REQUESTS = 200;
const PAUSE_MS = 20;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function timedRequest(base: string, identifier: string, n: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/support-requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({
      identifier,
      contact: `filer${n}@contact.test`,
      message: 'I lost my phone and my recovery codes; please help me back into my account.',
    }),
  });
  await res.text();
  if (res.status !== 202) throw new Error(`support request answered ${res.status}`);
  return performance.now() - t0;
}

/** Waits until the acknowledgement to `filer{n}` is in the dev mailbox: the request's job is done. */
async function jobDone(base: string, n: number, timeoutMs = 20_000): Promise<void> {
  const to = `filer${n}@contact.test`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${base}/dev/mailbox.json`);
    const { messages } = (await res.json()) as { messages: { to: string }[] };
    if (messages.some((m) => m.to === to)) return;
    if (Date.now() > deadline) throw new Error(`no acknowledgement for request ${n}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const timing: Scenario = {
  name: 'support',
  description: 'ADM-08: medians of 200 alternating support requests for existing and unknown identifiers',
  run: async () => {
    const svc = await startService();
    try {
      const existing = (await activeAccounts(svc, ACCOUNTS, 'supbench')).map((a) => a.username);
      const unknown = existing.map((_, n) => `nobody-sup${n}`);
      for (let n = 0; n < 20; n++) await timedRequest(svc.base, n % 2 ? existing[n] : unknown[n], 1000 + n); // warm-up
      const tE: number[] = [];
      const tU: number[] = [];
      for (let n = 0; n < REQUESTS; n++) {
        if (n % 2) tE.push(await timedRequest(svc.base, existing[n % ACCOUNTS] as string, n));
        else tU.push(await timedRequest(svc.base, unknown[n % ACCOUNTS] as string, n));
        // The job after each answer (lookup, rows, mail) would otherwise land on the next request,
        // which is always of the other kind: each response is measured alone, once the job before
        // it has mailed its acknowledgement (outside the timed window).
        await jobDone(svc.base, n);
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
      const existingMedianMs = round(median(tE), 3);
      const unknownMedianMs = round(median(tU), 3);
      const differencePct = round(
        (Math.abs(existingMedianMs - unknownMedianMs) / Math.min(existingMedianMs, unknownMedianMs)) * 100,
        2,
      );
      return {
        figures: { existingMedianMs, unknownMedianMs, differencePct, requests: REQUESTS, pauseBetweenMs: PAUSE_MS },
        targets: [
          {
            name: 'median difference existing vs unknown (%)',
            target: '<= 5',
            measured: differencePct,
            met: differencePct <= 5,
          },
        ],
      };
    } finally {
      await svc.stop();
    }
  },
};

export const scenarios: Scenario[] = [timing];
