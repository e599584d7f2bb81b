import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import type { Kernel } from '../kernel.ts';
import { type RequestDeps, sessionCookieName } from './request.ts';

/** What this module uses of the container the composition root builds. */
export type CsrfDeps = Pick<Kernel, 'config'> & RequestDeps;

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
/**
 * OpenID Provider endpoints that authenticate the client or a bearer token, never the cookie:
 * browser apps on other origins call them (with CORS), so no Origin rule applies.
 */
const CLIENT_AUTHENTICATED = new Set(['/oidc/token', '/oidc/revoke', '/oidc/introspect', '/oidc/me']);

/**
 * WEB-01 by strict Origin check, for every state-changing request, sign-in included. Browsers
 * send Origin on every POST/PUT/DELETE, so a request with a foreign Origin is refused; a request
 * without one is allowed only from a non-browser client that carries no session cookie
 * (shared/DESIGN.md). No state changes on GET anywhere, so GETs need no check.
 */
export function csrfCheck(d: CsrfDeps): (req: FastifyRequest) => AppError | undefined {
  const cookie = sessionCookieName(d);
  return function refusal(req: FastifyRequest): AppError | undefined {
    if (SAFE.has(req.method)) return;
    if (req.url.startsWith('/oidc/') && CLIENT_AUTHENTICATED.has(req.url.split('?', 1)[0])) return;
    const origin = req.headers.origin;
    // Pages send Referrer-Policy: no-referrer (REC-05), and with it browsers send `Origin: null`
    // on their own same-origin form posts; the unforgeable Sec-Fetch-Site then says who sent it.
    if (origin === 'null') {
      if (req.headers['sec-fetch-site'] !== 'same-origin') return new AppError('csrf_rejected');
      return;
    }
    if (origin !== undefined) {
      if (origin !== d.config.publicOrigin) return new AppError('csrf_rejected');
      return;
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return new AppError('csrf_rejected');
    if (req.headers.cookie?.includes(`${cookie}=`)) return new AppError('csrf_rejected');
  };
}
