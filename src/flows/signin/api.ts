import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isoTime } from '../../security/clock.ts';
import { contextOf, type RequestDeps } from '../../web/request.ts';
import { Captcha, Identifier, Password, PENDING, responses, Str } from '../../web/schemas.ts';
import { AccountView, accountView, SessionRef, type SessionsViewsDeps } from '../sessions/views.ts';
import type { SignInResult, SignInService } from './service.ts';
import { applySignInCookies, clearPendingCookie, pendingToken, type StepCookieDeps } from './step-cookies.ts';

/** What this module uses of the container the composition root builds. */
export type SigninApiDeps = { signIn: SignInService } & RequestDeps & SessionsViewsDeps & StepCookieDeps;

const Factor = Type.Object(
  { type: Type.String({ description: 'the factor id: totp, recovery_code, passkey …' }), label: Type.String() },
  { additionalProperties: true, description: 'a factor offered, with what the client needs to answer it' },
);

const SecondFactorRequired = Type.Object({
  status: Type.Literal('second_factor_required'),
  enrol: Type.Boolean({ description: 'true: no factor yet and the organization requires one (MFA-08): enrol first' }),
  factors: Type.Array(Factor),
  expiresAt: Type.String(),
});

const SignedInBody = Type.Object({
  status: Type.Literal('signed_in'),
  account: AccountView,
  session: SessionRef,
  notice: Type.Optional(Type.Object({}, { additionalProperties: true })),
  deletionCancelled: Type.Optional(
    Type.Boolean({ description: 'true when this sign-in cancelled a pending account deletion' }),
  ),
});

/** The answer for a sign-in outcome: 201 with the session, or 200 "second factor required" and no session. */
function answer(d: SigninApiDeps, reply: FastifyReply, r: SignInResult) {
  applySignInCookies(d, reply, r);
  if (r.status === 'signed_in')
    return reply.status(201).send({
      status: 'signed_in',
      account: accountView(d, r.account),
      session: { id: r.session.id, expiresAt: isoTime(r.session.expires_at) },
      ...(r.notice ? { notice: r.notice } : {}),
      ...(r.deletionCancelled ? { deletionCancelled: true } : {}),
    });
  return reply
    .status(200)
    .send({ status: r.status, enrol: r.enrol, factors: r.factors, expiresAt: isoTime(r.expiresAt) });
}

export function registerSignInApi(app: FastifyInstance, d: SigninApiDeps): void {
  app.post(
    '/api/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Sign in with username or email and password; sets the session cookie',
        description:
          'Unknown user, wrong password, pending, disabled and locked accounts all get the same 401 `invalid_credentials` (ENUM-01). ' +
          'An account with a second factor (or in an organization that requires one) gets 200 `second_factor_required` with the factors it can use, and a short-lived pending cookie instead of a session (MFA-07); finish with `POST /api/v1/sessions/second-factor`. ' +
          'After repeated failures (per identifier or per IP) the answer is 400 `captcha_required`: solve a CAPTCHA and repeat the request with it in `captcha` ' +
          '(ALTCHA: `GET /api/v1/captcha/challenge`, then send the base64 solution; see the `captcha` field).',
        body: Type.Object(
          {
            identifier: Identifier,
            password: Password,
            captcha: Captcha,
            remember: Type.Optional(
              Type.Boolean({
                description:
                  'true: the cookie lasts the session lifetime (LATCHKEY_SESSION_ABSOLUTE_TTL); otherwise it ends with the browser session. ' +
                  'Kept through a second-factor step: the session it issues gets the same cookie',
              }),
            ),
          },
          { examples: [{ identifier: 'alice', password: 'violet-harbor-quantum-meadow' }] },
        ),
        response: responses({ 201: SignedInBody, 200: SecondFactorRequired }, [400, 401, 413, 429]),
      },
    },
    async (req, reply) => {
      const { remember, ...body } = req.body as {
        identifier: string;
        password: string;
        captcha?: string;
        remember?: boolean;
      };
      return answer(d, reply, await d.signIn.withPassword(body, contextOf(req), { keepSignedIn: remember === true }));
    },
  );

  app.get(
    '/api/v1/sessions/second-factor',
    {
      schema: {
        tags: ['sessions'],
        security: PENDING,
        summary: 'The factors a half-finished sign-in can be finished with',
        description:
          'Reads the pending cookie. 401 when there is no half-finished sign-in in this browser (expired after LATCHKEY_MFA_PENDING_TTL, used, or never started). Fresh `begin` data (e.g. a new passkey challenge) each time.',
        response: responses({ 200: SecondFactorRequired }, [401]),
      },
    },
    async (req) => {
      const pending = await d.signIn.requirePending(pendingToken(d, req));
      const o = await d.signIn.offers(pending, contextOf(req));
      return { status: 'second_factor_required', ...o, expiresAt: isoTime(pending.expires_at) };
    },
  );

  app.post(
    '/api/v1/sessions/second-factor',
    {
      schema: {
        tags: ['sessions'],
        security: PENDING,
        summary: 'Finish a half-finished sign-in with a second factor; sets the session cookie',
        description:
          'Exactly one of `code` (authenticator app), `recoveryCode` or `webauthn` (a passkey assertion). An email code is never a second factor (OTP-06). ' +
          'Attempts are limited per account on every process and per IP (MFA-03). `remember: true` sets a device cookie: this browser is not asked again for LATCHKEY_MFA_REMEMBER_TTL. ' +
          'In enrolment mode (`enrol: true`), `code` confirms the authenticator app started with `POST /api/v1/sessions/second-factor/enrolment`, and `notice.recoveryCodes` carries the new recovery codes (shown once).',
        body: Type.Object(
          {
            code: Type.Optional(Str(16, { minLength: 1 })),
            recoveryCode: Type.Optional(Str(64, { minLength: 1 })),
            webauthn: Type.Optional(Type.Object({}, { additionalProperties: true })),
            remember: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: SignedInBody }, [400, 401, 413, 429]),
      },
    },
    async (req, reply) => {
      const body = req.body as Record<string, unknown>;
      const done = await d.signIn.finish(pendingToken(d, req), body, contextOf(req));
      clearPendingCookie(d, reply);
      return answer(d, reply, done);
    },
  );

  app.post(
    '/api/v1/sessions/second-factor/enrolment',
    {
      schema: {
        tags: ['sessions'],
        security: PENDING,
        summary: 'Start enrolling an authenticator app during a sign-in the organization requires it for',
        description:
          'Only for a half-finished sign-in with `enrol: true` (MFA-08). Answers the secret, the otpauth URI and an SVG QR code; confirm with `POST /api/v1/sessions/second-factor` `{code}`.',
        response: responses(
          { 200: Type.Object({ type: Type.String() }, { additionalProperties: true }) },
          [401, 409, 429],
        ),
      },
    },
    async (req) => d.signIn.beginEnrolment(pendingToken(d, req), contextOf(req)),
  );
}
