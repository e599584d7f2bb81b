import type { FastifyReply, FastifyRequest } from 'fastify';
import { authOf, clearSessionCookie, contextOf, type RequestDeps } from './request.ts';
import { type ReturnUrlDeps, safeReturnTo } from './return-url.ts';

/** What this module uses of the container the composition root builds. */
export type ReauthDeps = ReturnUrlDeps & RequestDeps;

/**
 * SES-07 on a page: the sign-in is too old for the change asked for. This session ends and the
 * browser goes to /login, which brings it back to `back` (a path on this service) once the user
 * has signed in again; the user then repeats the change with a fresh sign-in.
 */
export async function leadToReauthentication(d: ReauthDeps, req: FastifyRequest, reply: FastifyReply, back: string) {
  const auth = await authOf(d, req);
  if (auth) await d.sessions.signOut(auth.session, contextOf(req));
  clearSessionCookie(d, reply);
  const next = returnPath(d, back);
  return reply.redirect(`/login?msg=reauthenticate${next ? `&next=${encodeURIComponent(next)}` : ''}`, 303);
}

/**
 * Where /login may send the browser after signing in: a path on this service only (never
 * another origin, `//host` or `/\host`), re-serialised by safeReturnTo; anything else is dropped
 * and the browser goes to the default page.
 */
export function returnPath(d: ReauthDeps, raw: unknown): string | undefined {
  if (typeof raw !== 'string' || !raw.startsWith('/') || raw.length > 512) return undefined;
  try {
    const path = safeReturnTo(d, raw);
    return path?.startsWith('/') && !path.startsWith('//') ? path : undefined;
  } catch {
    return undefined;
  }
}
