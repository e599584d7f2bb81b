import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import type { Config } from './config/index.ts';
import { closeDeps, createDeps, type Deps, type DepsOverrides } from './deps.ts';

export interface Running {
  app: FastifyInstance;
  deps: Deps;
  url: string;
  close(): Promise<void>;
}

/** Starts the whole service: store + migrations, HTTP, and the delivery worker. */
export async function startServer(config: Config, overrides: DepsOverrides & { worker?: boolean } = {}): Promise<Running> {
  const deps = await createDeps(config, overrides);
  let app: FastifyInstance;
  try {
    app = await buildApp(deps);
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await closeDeps(deps);
    throw err;
  }
  if (overrides.worker !== false) deps.worker.start();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  let closing: Promise<void> | undefined;
  return {
    app,
    deps,
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    close() {
      // Graceful: stop accepting, let in-flight requests finish, then stop the worker and the store.
      closing ??= (async () => {
        await app.close();
        await closeDeps(deps);
      })();
      return closing;
    },
  };
}
