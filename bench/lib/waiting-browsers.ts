// A process of its own that plays browsers waiting on /login/qr: each polls its request, waits
// the interval the answer names (RFC 8628) and polls again, for BENCH_POLL_SECONDS; then prints
// one JSON line of what it saw. Apart from the load generator, so neither slows the other down.
const base = process.env.BENCH_BASE as string;
const reqs = JSON.parse(process.env.BENCH_REQUESTS as string) as { id: string; cookie: string }[];
const seconds = Number(process.env.BENCH_POLL_SECONDS);
/** BENCH_POLL_NULL=1: the same browsers poll GET /healthz instead, the yardstick for the poll's own cost */
const nullPoll = process.env.BENCH_POLL_NULL === '1';
const latencies: number[] = [];
const statuses: Record<string, number> = {};
const until = Date.now() + seconds * 1000;
await Promise.all(
  reqs.map(async ({ id, cookie }, i) => {
    // browsers that opened the page at different moments: first polls spread over one interval
    await new Promise((r) => setTimeout(r, (i * 2000) / reqs.length));
    let interval = 2000;
    while (Date.now() < until) {
      const t0 = performance.now();
      const res = await fetch(nullPoll ? `${base}/healthz` : `${base}/api/v1/qr-logins/${id}`, { headers: { cookie } });
      const text = await res.text();
      const body = (nullPoll ? { status: 'healthz' } : JSON.parse(text)) as { status?: string; interval?: number };
      latencies.push(performance.now() - t0);
      const key = `${res.status} ${body.status ?? ''}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (body.interval) interval = body.interval * 1000;
      await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, until - Date.now()))));
    }
  }),
);
const sorted = latencies.sort((a, b) => a - b);
const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({ polls: sorted.length, pollsPerSec: sorted.length / seconds, p50Ms: at(50), p99Ms: at(99), statuses })}\n`,
);
