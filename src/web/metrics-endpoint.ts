import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Fastify from 'fastify';
import type { Config } from '../config/index.ts';
import { AppError } from '../errors.ts';
import type { Kernel } from '../kernel.ts';
import { safeEqual, sha256 } from '../security/hashing.ts';
import { sendProblem, toAppError } from './errors.tsx';

/** What this module uses of the container the composition root builds. */
export type MetricsEndpointDeps = Pick<Kernel, 'config' | 'metrics'>;

/**
 * ENUM-04: metrics count events per account (a reset mail sent, an account locked), so a public
 * /metrics tells an attacker which identifiers exist. Where it is served:
 *   - LATCHKEY_METRICS_ADDRESS: only on that listener (the main port has no /metrics);
 *   - else LATCHKEY_METRICS_TOKEN: on the main port, with the bearer token;
 *   - else open on the main port in development, nowhere in production.
 * A token, when set, is required wherever metrics are served.
 */
export function metricsOnMainPort(config: Config): boolean {
  if (config.metrics.address) return false;
  return Boolean(config.metrics.token) || config.dev;
}

/** The /metrics route: the registry's text, behind the bearer token when one is configured. */
export function registerMetricsRoute(app: FastifyInstance, d: MetricsEndpointDeps): void {
  const token = d.config.metrics.token;
  // Hashing both sides gives equal lengths, so the comparison time says nothing about the token.
  const want = token === undefined ? undefined : sha256(token);
  const authorized = (req: FastifyRequest) => {
    if (want === undefined) return true;
    const m = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
    return safeEqual(sha256(m?.[1] ?? ''), want);
  };
  app.get('/metrics', { schema: { hide: true } }, async (req: FastifyRequest, reply: FastifyReply) => {
    if (!authorized(req))
      return sendProblem(reply.header('www-authenticate', 'Bearer realm="metrics"'), new AppError('unauthorized'));
    return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
  });
}

/** LATCHKEY_METRICS_ADDRESS: a listener of its own that answers /metrics and 404 to the rest. */
export async function startMetricsListener(
  d: MetricsEndpointDeps,
): Promise<{ app: FastifyInstance; url: string } | undefined> {
  const address = d.config.metrics.address;
  if (!address) return undefined;
  const app = Fastify({ logger: false, return503OnClosing: true });
  registerMetricsRoute(app, d);
  app.setNotFoundHandler((_req, reply) => sendProblem(reply, new AppError('not_found')));
  app.setErrorHandler((err, _req, reply) => sendProblem(reply, toAppError(err)));
  await app.listen({ host: address.host, port: address.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : address.port;
  return { app, url: `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}` };
}
