import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { CaptchaSlot, type CaptchaSlotDeps } from '../../web/captcha-slot.tsx';
import type { PageExtras } from '../../web/extras.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { type ReauthDeps, returnPath } from '../../web/reauth.ts';
import { authOf, captchaField, clearSessionCookie, contextOf, field, type RequestDeps } from '../../web/request.ts';
import { pageReturnTo, withReturnTo } from '../../web/return-url.ts';
import type { SessionService } from '../sessions/service.ts';
import type { SignInService } from './service.ts';
import { continueSignIn, type StepCookieDeps } from './step-cookies.ts';

/** What this module uses of the container the composition root builds. */
export type SigninPagesDeps = Pick<Kernel, 'config'> & {
  sessions: SessionService;
  signIn: SignInService;
  pages: Pick<PageExtras, 'loginExtras'>;
} & CaptchaSlotDeps &
  RequestDeps &
  ReauthDeps &
  StepCookieDeps;

void Html;

/** `?msg=` notices: each code's catalog key (said in the reader's language when the page is built). */
const MESSAGES: Record<string, string> = {
  signed_out: 'signin.msg.signed_out',
  activated: 'signin.msg.activated',
  password_reset: 'signin.msg.password_reset',
  session_ended: 'signin.msg.session_ended',
  second_factor_expired: 'signin.msg.second_factor_expired',
  sign_in_required: 'signin.msg.sign_in_required',
  reauthenticate: 'signin.msg.reauthenticate',
  deletion_requested: 'signin.msg.deletion_requested',
  passkey_recovered: 'signin.msg.passkey_recovered',
};

export async function renderLogin(
  d: SigninPagesDeps,
  reply: FastifyReply,
  o: {
    identifier?: string;
    error?: string;
    info?: string;
    status?: number;
    captcha?: boolean;
    /** an organization's context (/o/{slug}/login): its name, and links to its own pages */
    org?: { slug: string; displayName: string };
    /** where to return after signing in (SES-07 re-authentication): a path on this service */
    next?: string;
    /** a re-authentication: the second factor is asked even on a remembered browser (MFA-06) */
    reauth?: boolean;
    remember?: boolean;
    /** `?return_to=`: where to go after signing in (same origin or LATCHKEY_RETURN_URL_ALLOWLIST) */
    returnTo?: string;
  },
) {
  const prefix = o.org ? `/o/${encodeURIComponent(o.org.slug)}` : '';
  // Other ways to sign in (external accounts …) lead back to the same place.
  const extras = await Promise.all(d.pages.loginExtras.map((x) => x({ returnTo: o.returnTo ?? o.next })));
  return reply
    .status(o.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(
      Page({
        title: t('signin.title'),
        productName: o.org?.displayName ?? d.config.productName,
        orgPrefix: prefix,
        children: (
          <>
            <Notice kind="error" text={o.error} />
            <Notice kind="info" text={o.info} />
            <form method="post" action={`${prefix}/login`} class="card" novalidate>
              <Field
                name="identifier"
                label={t('signin.identifier')}
                value={o.identifier}
                autocomplete="username webauthn"
                autofocus={!o.identifier}
                maxlength={320}
              />
              {/* After an error the identifier stays; the password never comes back, so focus lands there. */}
              <Field
                name="password"
                label={t('signin.password')}
                type="password"
                autocomplete="current-password"
                autofocus={!!o.identifier}
              />
              <div class="field check">
                <input type="checkbox" id="f-remember" name="remember" value="1" checked={o.remember} />
                <label for="f-remember">{th('signin.remember')}</label>
              </div>
              {o.next ? <input type="hidden" name="next" value={o.next} /> : ''}
              {o.reauth ? <input type="hidden" name="reauth" value="1" /> : ''}
              {o.returnTo ? <input type="hidden" name="return_to" value={o.returnTo} /> : ''}
              {o.captcha ? CaptchaSlot(d) : ''}
              <button type="submit" class="primary">
                {th('signin.submit')}
              </button>
              <p class="links">
                <a href={`${prefix}/forgot-password`}>{th('signin.forgot_password')}</a>
                <a href={withReturnTo(`${prefix}/register`, o.returnTo)}>{th('signin.create_account')}</a>
                <a href={`${prefix}/activate/resend`}>{th('signin.resend_activation')}</a>
                <a href="/support">{th('signin.contact_support')}</a>
              </p>
            </form>
            {extras.join('') as 'safe'}
          </>
        ),
      }),
    );
}

export function registerSignInPages(app: FastifyInstance, d: SigninPagesDeps): void {
  app.get('/login', { schema: { hide: true } }, async (req, reply) => loginGet(d, req, reply));
  app.post('/login', { schema: { hide: true } }, async (req, reply) => loginPost(d, req, reply));

  app.post('/logout', { schema: { hide: true } }, async (req, reply) => {
    const auth = await authOf(d, req);
    if (auth) await d.sessions.signOut(auth.session, contextOf(req));
    clearSessionCookie(d, reply);
    return reply.redirect('/login?msg=signed_out', 303);
  });
}

/** An organization's context for the sign-in page: its name, and its own links and form target. */
export interface LoginOrg {
  slug: string;
  displayName: string;
}

/** GET /login and /o/{slug}/login. */
export async function loginGet(d: SigninPagesDeps, req: FastifyRequest, reply: FastifyReply, org?: LoginOrg) {
  const q = req.query as Record<string, unknown> | undefined;
  // `next`: a path on this service (SES-07 re-authentication); `return_to` may also be an
  // allow-listed origin (an app behind forward-auth, an OpenID Provider interaction).
  const next = returnPath(d, q?.next);
  const { returnTo, error } = pageReturnTo(d, q?.return_to);
  if (await authOf(d, req)) return reply.redirect(returnTo ?? next ?? '/settings', 303);
  const msg = q?.msg;
  // Own keys only: ?msg=__proto__ must not reach the page as an object (WEB-04).
  return renderLogin(d, reply, {
    info: typeof msg === 'string' && Object.hasOwn(MESSAGES, msg) ? t(MESSAGES[msg] as string) : undefined,
    next,
    reauth: msg === 'reauthenticate',
    // BF-04: when this IP's next attempt needs a CAPTCHA, show it now rather than after a wasted try.
    captcha: await d.signIn.captchaRequired('', contextOf(req)),
    org,
    returnTo,
    error,
  });
}

/** POST /login and /o/{slug}/login: an error re-renders the page in the same context. */
export async function loginPost(d: SigninPagesDeps, req: FastifyRequest, reply: FastifyReply, org?: LoginOrg) {
  const identifier = field(req.body, 'identifier', 320);
  const password = field(req.body, 'password', 1024);
  const captcha = captchaField(req.body);
  // 513: one over returnPath's bound, so an overlong path is refused rather than cut short.
  const next = returnPath(d, field(req.body, 'next', 513));
  const reauth = field(req.body, 'reauth', 4) === '1';
  const remember = field(req.body, 'remember', 8) === '1';
  // A refused address was reported on the GET already; a forged one here is dropped.
  const { returnTo } = pageReturnTo(d, field(req.body, 'return_to', 2049) || undefined);
  if (!identifier || !password)
    return renderLogin(d, reply, {
      identifier,
      error: t('signin.error.missing_fields'),
      status: 400,
      next,
      reauth,
      org,
      remember,
      returnTo,
    });
  try {
    const result = await d.signIn.withPassword({ identifier, password, captcha }, contextOf(req), {
      returnTo: returnTo ?? next,
      reauth,
      keepSignedIn: remember,
    });
    // Signed in: on to the return path; a second factor needed: to /login/second-factor, which keeps it.
    return continueSignIn(d, reply, result, '/settings');
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
    let captchaStep = err.code === 'captcha_required' || err.code === 'captcha_invalid';
    // Show the CAPTCHA up front once the next attempt will need it (BF-04).
    if (err.code === 'invalid_credentials') captchaStep = await d.signIn.captchaRequired(identifier, contextOf(req));
    return renderLogin(d, reply, {
      identifier,
      error: pageMessage(err),
      status: err.status,
      captcha: captchaStep,
      next,
      reauth,
      org,
      remember,
      returnTo,
    });
  }
}
