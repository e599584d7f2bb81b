import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RouteStats {
  method: string;
  route: string;
  statuses: Map<number, number>;
  /** observations per bucket (not cumulative), the last one is +Inf */
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * Requests and latency by route, counted in plain maps on the hot path and shaped for
 * Prometheus only when scraped: prom-client's per-call label hashing and validation were a
 * visible share of a session check in the bench. The output is what a prom-client Counter
 * (`latchkey_http_requests_total`) and Histogram (`latchkey_http_request_duration_seconds`)
 * would print.
 */
export class HttpMetrics {
  /** route → method → stats: nested, so recording builds no key string */
  private readonly byRoute = new Map<string, Map<string, RouteStats>>();

  private get routes(): RouteStats[] {
    return [...this.byRoute.values()].flatMap((m) => [...m.values()]);
  }

  record(method: string, route: string, status: number, seconds: number): void {
    let methods = this.byRoute.get(route);
    if (!methods) {
      methods = new Map();
      this.byRoute.set(route, methods);
    }
    let r = methods.get(method);
    if (!r) {
      r = { method, route, statuses: new Map(), buckets: new Array(BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      methods.set(method, r);
    }
    r.statuses.set(status, (r.statuses.get(status) ?? 0) + 1);
    let i = 0;
    while (i < BUCKETS.length && seconds > (BUCKETS[i] as number)) i++;
    r.buckets[i] = (r.buckets[i] as number) + 1;
    r.sum += seconds;
    r.count++;
  }

  requestsMetric() {
    return this.metric('latchkey_http_requests_total', 'HTTP requests by route and status', 'counter', () =>
      this.routes.flatMap((r) =>
        [...r.statuses].map(([status, value]) => ({
          labels: { method: r.method, route: r.route, status: String(status) },
          value,
        })),
      ),
    );
  }

  durationMetric() {
    const name = 'latchkey_http_request_duration_seconds';
    return this.metric(name, 'HTTP request latency by route', 'histogram', () =>
      this.routes.flatMap((r) => {
        const labels = { method: r.method, route: r.route };
        let cumulative = 0;
        const buckets = r.buckets.map((n, i) => {
          cumulative += n;
          const le = i < BUCKETS.length ? (BUCKETS[i] as number) : '+Inf';
          return { labels: { le, ...labels }, value: cumulative, metricName: `${name}_bucket` };
        });
        return [
          ...buckets,
          { labels, value: r.sum, metricName: `${name}_sum` },
          { labels, value: r.count, metricName: `${name}_count` },
        ];
      }),
    );
  }

  /** The shape prom-client's registry reads from a metric it did not make itself. */
  private metric(name: string, help: string, type: 'counter' | 'histogram', values: () => object[]) {
    return {
      name,
      help,
      type,
      reset: () => this.byRoute.clear(),
      get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    };
  }
}

/** One registry per app instance, so several instances (tests) never collide. */
export function createMetrics(
  outboxDepth: () => Promise<Record<string, number>>,
  hashLoad: () => { running: number; waiting: number; runs?: Record<string, number> },
  reviewQueue: () => Promise<Record<string, number>> = async () => ({}),
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const http = new HttpMetrics();
  registry.registerMetric(http.requestsMetric() as unknown as Metric);
  registry.registerMetric(http.durationMetric() as unknown as Metric);
  const signIns = new Counter({
    name: 'latchkey_sign_in_total',
    help: 'Sign-in attempts by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers: [registry],
  });
  const delivered = new Counter({
    name: 'latchkey_outbox_processed_total',
    help: 'Outbox rows processed by channel and result',
    labelNames: ['channel', 'result'] as const,
    registers: [registry],
  });
  // OTP-05: SMS withheld because LATCHKEY_SMS_BUDGET was used up (src/delivery/sms/budget.ts).
  const smsBudgetExhausted = new Counter({
    name: 'latchkey_sms_budget_exhausted_total',
    help: 'SMS not sent because the install-wide SMS budget (LATCHKEY_SMS_BUDGET) was used up',
    registers: [registry],
  });
  new Gauge({
    name: 'latchkey_outbox_depth',
    help: 'Outbox rows waiting for delivery, by channel',
    labelNames: ['channel'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const depth = await outboxDepth().catch(() => ({}) as Record<string, number>);
      for (const [channel, n] of Object.entries(depth)) this.set({ channel }, n);
    },
  });
  // Waiting hashes mean sign-ins queue behind the CPUs: the first sign of too little capacity.
  new Gauge({
    name: 'latchkey_password_hashes',
    help: 'Password hashes being computed and waiting for a thread (LATCHKEY_ARGON2_THREADS)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const { running, waiting } = hashLoad();
      this.set({ state: 'running' }, running);
      this.set({ state: 'waiting' }, waiting);
    },
  });
  // Real password checks versus dummy ones: how many checks a burst of attempts got (BF-06).
  new Counter({
    name: 'latchkey_password_hashes_total',
    help: 'Password hashes run, by kind: verify (a real password check), burn (the equal-cost dummy), hash (a new hash)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(hashLoad().runs ?? {})) this.inc({ kind }, n);
    },
  });
  // The staff review queue's open items per kind: a growing count means reviews fall behind.
  new Gauge({
    name: 'latchkey_review_queue_open',
    help: 'Open items in the staff review queue, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await reviewQueue().catch(() => ({}) as Record<string, number>);
      for (const [kind, n] of Object.entries(counts)) this.set({ kind }, n);
    },
  });
  // AV-01: requests answered 503 because a dependency was down or did not answer in time.
  const unavailable = new Counter({
    name: 'latchkey_dependency_unavailable_total',
    help: 'Requests answered 503 because a dependency was unavailable, by dependency',
    labelNames: ['dependency'] as const,
    registers: [registry],
  });
  return { registry, http, signIns, delivered, smsBudgetExhausted, unavailable };
}

export type Metrics = ReturnType<typeof createMetrics>;
