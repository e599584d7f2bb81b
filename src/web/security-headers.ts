import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import helmet from 'helmet';
import type { Kernel } from '../kernel.ts';
import { type CaptchaSlotDeps, captchaOrigins } from './captcha-slot.tsx';

/** What this module uses of the container the composition root builds. */
export type SecurityHeadersDeps = Pick<Kernel, 'config'> & CaptchaSlotDeps;

/**
 * WEB-03's headers, as helmet writes them for our policy. Helmet is the authority on the values;
 * it runs once here against a recording response, because its per-request middleware (a
 * setHeader call per header, which also sends Node down its slower header path) was one of the
 * largest costs of GET /api/v1/sessions/current in the bench.
 */
export function securityHeaders(d: SecurityHeadersDeps): Record<string, string> {
  const middleware = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        // A third-party CAPTCHA (turnstile, hcaptcha, recaptcha) needs its own origin; ALTCHA needs none.
        scriptSrc: ["'self'", ...captchaOrigins(d.config.captcha.provider)],
        frameSrc: ["'self'", ...captchaOrigins(d.config.captcha.provider)],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'", ...captchaOrigins(d.config.captcha.provider)],
        workerSrc: ["'self'", 'blob:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    // HSTS only makes sense (and is only honoured) over https (WEB-02).
    strictTransportSecurity: d.config.https ? { maxAge: 31536000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginEmbedderPolicy: false,
  });
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failed: unknown;
  // Helmet's middleware is synchronous and depends on nothing in the request for our options.
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    failed = err;
  });
  if (failed) throw failed;
  if (!headers['content-security-policy']) throw new Error('helmet wrote no Content-Security-Policy');
  return headers;
}

/**
 * The headers for JSON under /api/: nothing in a JSON answer may run, load or be framed, so the
 * CSP is `default-src 'none'` with WEB-03's directives spelled out, plus nosniff, CORP (no
 * cross-origin page may embed an authenticated answer) and HSTS on https. The headers that only
 * steer documents are left to pages: X-Frame-Options (frame-ancestors 'none' already forbids
 * framing), Referrer-Policy (a JSON answer loads and links nothing), COOP, Origin-Agent-Cluster,
 * DNS prefetch. Node validates every header by regular expression on every response, so each
 * header left off the API's hot paths, such as the session check, is measurably cheaper.
 */
export function apiSecurityHeaders(pageHeaders: Record<string, string>): Record<string, string> {
  const api: Record<string, string> = {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
  };
  for (const name of ['x-content-type-options', 'cross-origin-resource-policy', 'strict-transport-security']) {
    const value = pageHeaders[name];
    if (value !== undefined) api[name] = value;
  }
  return api;
}

/**
 * Every response carries the WEB-03 headers, and every response but static assets carries
 * `Cache-Control: no-store` (SES-04). Written before the handler runs, so a handler (or an
 * error) can still narrow a header for its own response.
 */
export function securityHeaderWriter(d: SecurityHeadersDeps): (req: FastifyRequest, reply: FastifyReply) => void {
  const asset = securityHeaders(d);
  // [name, value] pairs: a loop over an object's keys reads it megamorphically on every request.
  const page = Object.entries({ ...asset, 'cache-control': 'no-store' });
  const api = Object.entries({ ...apiSecurityHeaders(asset), 'cache-control': 'no-store' });
  const assets = Object.entries(asset);
  return (req, reply) => {
    const url = req.url;
    const set = url.startsWith('/api/') ? api : url.startsWith('/static/') ? assets : page;
    for (const [name, value] of set) reply.header(name, value);
  };
}
