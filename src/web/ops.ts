import type { FastifyInstance } from 'fastify';
import type { Kernel } from '../kernel.ts';
import { isReady } from '../store/db.ts';
import { type MetricsEndpointDeps, metricsOnMainPort, registerMetricsRoute } from './metrics-endpoint.ts';

/** What this module uses of the container the composition root builds. */
export type OpsDeps = Pick<Kernel, 'config' | 'store' | 'guard'> & MetricsEndpointDeps;

/** Health for orchestrators and Prometheus metrics. /metrics only where metricsOnMainPort allows. */
export function registerOps(app: FastifyInstance, d: OpsDeps): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const ready = await isReady(d.store);
    // Still 200 while degraded (AV-03): the process serves, with per-process counters meanwhile.
    const degraded = d.guard.degraded?.() ?? [];
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', degraded });
  });
  // ENUM-04: private in production (a token, or a listener of its own: metrics-endpoint.ts).
  if (metricsOnMainPort(d.config)) registerMetricsRoute(app, d);
}
