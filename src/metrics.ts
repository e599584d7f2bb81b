import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so several instances (tests) never collide. */
export function createMetrics(outboxDepth: () => Promise<Record<string, number>>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const httpRequests = new Counter({
    name: 'latchkey_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
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
  return { registry, httpRequests, httpDuration, signIns, delivered };
}

export type Metrics = ReturnType<typeof createMetrics>;
