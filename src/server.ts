import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import type { Config } from './config/index.ts';
import { closeDeps, createDeps, type Deps, type DepsOverrides } from './deps.ts';
import { startMetricsListener } from './web/metrics-endpoint.ts';

export interface Running {
  app: FastifyInstance;
  deps: Deps;
  url: string;
  /** LATCHKEY_METRICS_ADDRESS's listener, when configured */
  metricsUrl?: string;
  close(): Promise<void>;
}

/** Starts the whole service: store + migrations, HTTP, and the delivery worker. */
export async function startServer(
  config: Config,
  overrides: DepsOverrides & { worker?: boolean } = {},
): Promise<Running> {
  const deps = await createDeps(config, overrides);
  let app: FastifyInstance | undefined;
  let metrics: Awaited<ReturnType<typeof startMetricsListener>>;
  try {
    app = await buildApp(deps);
    await app.listen({ host: config.host, port: config.port });
    metrics = await startMetricsListener(deps);
  } catch (err) {
    await app?.close();
    await closeDeps(deps);
    throw err;
  }
  // WEB-06: said once at start, loudly, rather than failing: some deployments sit behind
  // another bot defence.
  if (!config.dev && config.captcha.provider === 'off')
    deps.log.warn(
      { setting: 'LATCHKEY_CAPTCHA' },
      'LATCHKEY_CAPTCHA=off in production: nothing slows password guessing once the step-up threshold is reached, and reset/registration requests are not bot-checked',
    );
  const server = app;
  if (overrides.worker !== false) deps.worker.start();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  let closing: Promise<void> | undefined;
  return {
    app,
    deps,
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    metricsUrl: metrics?.url,
    close() {
      // Graceful: stop accepting, let in-flight requests finish, then stop the worker and the store.
      closing ??= (async () => {
        await Promise.all([server.close(), metrics?.app.close()]);
        await closeDeps(deps);
      })();
      return closing;
    },
  };
}
