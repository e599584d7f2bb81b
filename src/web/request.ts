import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Kernel } from '../kernel.ts';
import type { Authenticated } from './auth.ts';
import { clearCookie, readCookie, setCookie } from './cookies.ts';
import { applyAccountLocale } from './locale.ts';

/**
 * The session operations the web kit needs. The sessions flow implements them; declaring them
 * here keeps web/ a kit that imports no feature.
 */
export interface SessionPort {
  authenticate(token: string | undefined): Authenticated | null | Promise<Authenticated | null>;
  signOut(session: Authenticated['session'], ctx: RequestContext): Promise<void>;
}

/** What this module uses of the container the composition root builds. */
export type RequestDeps = Pick<Kernel, 'config'> & { sessions: SessionPort };

declare module 'fastify' {
  interface FastifyRequest {
    /** undefined = not looked up yet; null = no valid session */
    authCache?: Authenticated | null;
  }
}

/** The flow-facing facts of a request. The IP honours LATCHKEY_TRUSTED_PROXIES via Fastify's trustProxy. */
export function contextOf(req: FastifyRequest): RequestContext {
  const ua = req.headers['user-agent'];
  const ctx: RequestContext = {
    ip: req.ip,
    userAgent: typeof ua === 'string' ? ua.slice(0, 512) : '',
    correlationId: String(req.id),
  };
  // "Don't ask again on this browser" (second factors): only its sign-in step reads the token.
  if (req.headers.cookie?.includes('latchkey_device=')) {
    const device = readCookie(req, '__Host-latchkey_device') ?? readCookie(req, 'latchkey_device');
    if (device) ctx.deviceToken = device;
  }
  return ctx;
}

export function sessionCookieName(d: RequestDeps): string {
  // SES-03: the __Host- prefix makes browsers refuse the cookie unless Secure, Path=/ and no Domain.
  return d.config.https ? '__Host-latchkey_session' : 'latchkey_session';
}

const sessionCookieOptions = (d: RequestDeps) => ({
  httpOnly: true,
  sameSite: 'lax' as const,
  path: '/',
  secure: d.config.https,
});

/**
 * "Remember me" decides the cookie's life: without it the cookie ends with the browser session;
 * with it the browser keeps it for the session's absolute lifetime (the server ends it then anyway).
 */
export function setSessionCookie(d: RequestDeps, reply: FastifyReply, token: string, remember = false): void {
  const maxAge = remember ? Math.floor(d.config.session.absoluteTtl / 1000) : undefined;
  setCookie(reply, sessionCookieName(d), token, { ...sessionCookieOptions(d), maxAge });
}

export function clearSessionCookie(d: RequestDeps, reply: FastifyReply): void {
  clearCookie(reply, sessionCookieName(d), sessionCookieOptions(d));
}

/**
 * The signed-in session of this request, or null. Only the cookie counts: tokens in URLs are
 * never adopted (SES-02). Synchronous when the session service answers synchronously (see
 * SessionService.authenticate); routes that await it need not care.
 */
export function authOf(d: RequestDeps, req: FastifyRequest): Authenticated | null | Promise<Authenticated | null> {
  if (req.authCache !== undefined) return req.authCache;
  const found = d.sessions.authenticate(readCookie(req, sessionCookieName(d)));
  if (found instanceof Promise)
    return found.then((auth) => {
      applyAccountLocale(auth?.account.locale);
      req.authCache = auth;
      return auth;
    });
  applyAccountLocale(found?.account.locale);
  req.authCache = found;
  return found;
}

export async function requireAuth(d: RequestDeps, req: FastifyRequest): Promise<Authenticated> {
  return signedIn(await authOf(d, req));
}

/** The session, or the 401 every route gives without one. */
export function signedIn(auth: Authenticated | null): Authenticated {
  if (!auth) throw new AppError('unauthorized');
  return auth;
}

/**
 * The CAPTCHA answer of a form: ALTCHA's field, our own, or the field a third-party widget
 * (Turnstile, hCaptcha, reCAPTCHA) adds to the form it sits in.
 */
export function captchaField(body: unknown): string | undefined {
  // altcha_nojs: the ticket a form carries when the browser runs no JavaScript (only then is it sent).
  for (const name of [
    'altcha',
    'captcha',
    'altcha_nojs',
    'cf-turnstile-response',
    'h-captcha-response',
    'g-recaptcha-response',
  ]) {
    const v = field(body, name, 20000);
    if (v) return v;
  }
  return undefined;
}

/** Reads a form field as one bounded string; repeated or missing fields read as ''. */
export function field(body: unknown, name: string, max = 1024): string {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
}
