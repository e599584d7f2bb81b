import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kernel } from '../../kernel.ts';
import { clearCookie, readCookie, setCookie } from '../../web/cookies.ts';
import { type RequestDeps, setSessionCookie } from '../../web/request.ts';
import type { SignedIn, SignInResult } from './service.ts';

// The cookies of the second-factor step: the pending cookie binds a half-finished sign-in to the
// browser that passed the first factor (MFA-07), and the device cookie remembers a browser whose
// user chose "don't ask again". Neither is a session: authOf never reads them.

export type StepCookieDeps = Pick<Kernel, 'config'> & RequestDeps;

export const pendingName = (d: Pick<StepCookieDeps, 'config'>) =>
  d.config.https ? '__Host-latchkey_pending' : 'latchkey_pending';
export const deviceCookieName = (d: StepCookieDeps) => (d.config.https ? '__Host-latchkey_device' : 'latchkey_device');

const options = (d: StepCookieDeps, maxAgeMs?: number) => ({
  httpOnly: true,
  sameSite: 'lax' as const,
  path: '/',
  secure: d.config.https,
  maxAge: maxAgeMs === undefined ? undefined : Math.ceil(maxAgeMs / 1000),
});

export function pendingToken(d: StepCookieDeps, req: FastifyRequest): string | undefined {
  return readCookie(req, pendingName(d));
}

export function clearPendingCookie(d: StepCookieDeps, reply: FastifyReply): void {
  clearCookie(reply, pendingName(d), options(d));
}

/** The cookies a sign-in outcome sets: the session (and remembered device), or the pending cookie. */
export function applySignInCookies(d: StepCookieDeps, reply: FastifyReply, r: SignInResult): void {
  if (r.status === 'signed_in') applySignedIn(d, reply, r);
  else setCookie(reply, pendingName(d), r.pendingToken, options(d, d.config.mfa.pendingTtl));
}

/** The session cookie lasts the session lifetime with "Keep me signed in", else the browser session. */
export function applySignedIn(d: StepCookieDeps, reply: FastifyReply, r: SignedIn): void {
  setSessionCookie(d, reply, r.token, r.keepSignedIn === true);
  if (r.deviceToken) setCookie(reply, deviceCookieName(d), r.deviceToken, options(d, d.config.mfa.rememberTtl));
}

/**
 * Where a page flow goes after a sign-in method proved the first factor: signed in → its return
 * path (or `fallback`); a second factor needed → /login/second-factor, which keeps the return path
 * in the half-finished sign-in. Every page path to a session uses this.
 */
export function continueSignIn(d: StepCookieDeps, reply: FastifyReply, r: SignInResult, fallback = '/settings') {
  applySignInCookies(d, reply, r);
  // Signing in cancelled a pending deletion: /settings says so before anything else.
  if (r.status === 'signed_in' && r.deletionCancelled)
    return reply.redirect('/settings?done=deletion_cancelled#delete', 303);
  if (r.status === 'signed_in') return reply.redirect(r.returnTo ?? fallback, 303);
  return reply.redirect('/login/second-factor', 303);
}
