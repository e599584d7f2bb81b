import type { FastifyInstance } from 'fastify';
import type { Deps } from '../deps.ts';
import { isReady } from '../store/db.ts';

/** Health for orchestrators and Prometheus metrics. Keep /metrics on an internal network. */
export function registerOps(app: FastifyInstance, d: Deps): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const ready = await isReady(d.store);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics()),
  );
}
