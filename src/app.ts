import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { escapeHtml } from './delivery/templates.ts';
import type { Deps } from './deps.ts';
import { pendingName } from './flows/signin/step-cookies.ts';
import { configureLocales, inScope } from './i18n/scope.ts';
import { registerRoutes } from './routes.ts';
import { newToken } from './security/random.ts';
import { csrfCheck } from './web/csrf.ts';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './web/errors.tsx';
import { jsonOnlyRefusal } from './web/json-only.ts';
import { requestLocale } from './web/locale.ts';
import { sessionCookieName } from './web/request.ts';
import { withLazyChildren } from './web/request-logger.ts';
import { SESSION } from './web/schemas.ts';
import { securityHeaderWriter } from './web/security-headers.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Swagger UI runs its own bundled script and styles and loads the spec from this origin. */
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; script-src-attr 'none'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'";

/** Builds the HTTP face over the services in `d`. Listening is the caller's business. */
export async function buildApp(d: Deps): Promise<FastifyInstance> {
  configureLocales(d.config.locales.offered, d.config.locales.fallback);
  const reqIdPrefix = `${newToken(d.random, 6)}-`;
  let reqCounter = 0;
  const writeSecurityHeaders = securityHeaderWriter(d);
  const app = Fastify({
    loggerInstance: withLazyChildren(d.log as unknown as FastifyBaseLogger),
    // Per-request access logs would cost the hot paths; audit events and errors are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: d.config.bodyLimit,
    trustProxy: d.config.trustedProxies.length ? d.config.trustedProxies : false,
    // Correlation ids need to be unique, not secret: a per-process random prefix and a counter
    // spare the hot path a CSPRNG call per request.
    genReqId: () => `${reqIdPrefix}${(reqCounter++).toString(36)}`,
    requestIdHeader: false,
    return503OnClosing: true,
    // A body schema that closes its properties refuses the others (400 naming them) rather than
    // dropping them: a misspelt setting silently kept its old value.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    routerOptions: { maxParamLength: 200 },
    // WEB-05: errors raised before routing, and what is not HTTP at all, take the one mapping too.
    frameworkErrors: frameworkErrorHandler(d, writeSecurityHeaders),
    clientErrorHandler: clientErrorHandler(d),
    // AV-02: a client that sends its headers or body slowly is cut off (408) instead of holding a
    // socket for ever. Node checks these deadlines only every connectionsCheckingInterval
    // (30 s by default), so it checks at a fraction of the timeout.
    requestTimeout: d.config.http.requestTimeout,
    http: {
      requestTimeout: d.config.http.requestTimeout,
      headersTimeout: d.config.http.headersTimeout,
      connectionsCheckingInterval: Math.max(250, Math.min(5000, Math.floor(d.config.http.headersTimeout / 4))),
    },
  });

  // authOf's per-request memo, declared up front: a property added to every request after
  // construction changes its shape each time.
  app.decorateRequest('authCache', undefined);
  registerErrorHandling(app, d);
  await app.register(formbody, { bodyLimit: d.config.bodyLimit });
  // WEB-03 headers, the WEB-01 check and WEB-05's JSON-only check share one callback hook: every
  // hook is paid on every request, and a promise per request showed in the bench.
  const csrfRefusal = csrfCheck(d);
  // Issue 17: the request's language is a scope every page, error and mail it renders reads.
  const localeOf = requestLocale(d);
  const fallbackScope = () => ({ locale: d.config.locales.fallback });
  app.decorateRequest('localeScope', undefined);
  app.addHook('onRequest', (req, reply, done) => {
    writeSecurityHeaders(req, reply);
    const refusal = csrfRefusal(req) ?? jsonOnlyRefusal(req);
    const scope = localeOf(req);
    if (!(scope instanceof Promise)) {
      req.localeScope = scope;
      inScope(scope, () => done(refusal));
      return;
    }
    scope.then(
      (s) => {
        req.localeScope = s;
        inScope(s, () => done(refusal));
      },
      () => {
        req.localeScope = fallbackScope();
        inScope(req.localeScope, () => done(refusal));
      },
    );
  });
  // A body is read outside the request's async context; the scope is entered again after it.
  app.addHook('preValidation', (req, _reply, done) => inScope(req.localeScope ?? fallbackScope(), done));
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    d.metrics.http.record(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) req.log.warn({ route, status: reply.statusCode }, 'server error');
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Latchkey API',
        version: '1',
        description: 'Sign-in and account recovery. Errors are RFC 9457 problem details with a stable `code`.',
      },
      servers: [{ url: d.config.publicUrl }],
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: sessionCookieName(d) },
          pending: { type: 'apiKey', in: 'cookie', name: pendingName(d) },
        },
      },
    },
    // Shared schemas keep their $id as the component name (Problem), not def-0.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  // OpenAPI: an API operation that can answer 401 needs the session cookie, unless its schema
  // names its requirement itself (the pending cookie of the second-factor step, or none).
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { security?: unknown; response?: Record<string, unknown> } | undefined;
    if (!schema?.response || schema.security !== undefined || !route.url.startsWith('/api/v1/')) return;
    if ('401' in schema.response) schema.security = SESSION;
  });
  // WEB-06: the Swagger UI is a page of its own; production serves it only when asked. Its CSP
  // (set by the plugin for its own routes only) is the site's, not the plugin's looser default
  // (frame-ancestors 'self', https: styles and fonts, upgrade-insecure-requests).
  if (d.config.apiDocs)
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: DOCS_CSP,
      // The product's own title, icon and name on the page, not "Swagger UI" and Fastify's logo.
      theme: {
        title: `${d.config.productName} API`,
        favicon: [
          {
            filename: 'favicon.svg',
            rel: 'icon',
            sizes: 'any',
            type: 'image/svg+xml',
            content: readFileSync(join(here, 'web', 'public', 'favicon.svg')),
          },
        ],
      },
      logo: { type: 'image/svg+xml', content: docsLogo(d.config.productName), href: '/docs' },
    });
  await app.register(fastifyStatic, {
    root: join(here, 'web', 'public'),
    prefix: '/static/',
    maxAge: '1h',
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Browsers ask for /favicon.ico whatever the page says; one icon serves both.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) =>
    reply.redirect('/static/favicon.svg', 301),
  );

  await registerRoutes(app, d);
  return app;
}

/** A small wordmark for the API docs page: the favicon's key and the product name. */
function docsLogo(productName: string): string {
  const name = escapeHtml(`${productName} API`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${40 + 11 * name.length}" height="32" viewBox="0 0 ${40 + 11 * name.length} 32"><rect width="32" height="32" rx="7" fill="#1f5fbf"/><circle cx="16" cy="13" r="5" fill="none" stroke="#fff" stroke-width="3"/><rect x="14.5" y="16" width="3" height="10" rx="1.5" fill="#fff"/><text x="40" y="22" font-family="system-ui,sans-serif" font-size="18" font-weight="700" fill="#fff">${name}</text></svg>`;
}
