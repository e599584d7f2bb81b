import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { AssertionJson, OptionsJson } from '../../methods/passkey/api.ts';
import { isoTime } from '../../security/clock.ts';
import { clearCookie, readCookie, setCookie } from '../../web/cookies.ts';
import { contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { Password, responses, Str } from '../../web/schemas.ts';
import { AccountView, accountView } from '../sessions/views.ts';
import { applySignInCookies, type StepCookieDeps } from '../signin/step-cookies.ts';
import { qrSvg } from './describe.ts';
import { formatCode, type PollAnswer, type QrLoginService, type Started } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type QrApiDeps = Pick<Kernel, 'config'> & { qr: QrLoginService } & RequestDeps & StepCookieDeps;

/** QR-02: the cookie that binds a request to the browser that started it. */
export function bindingCookieName(d: Pick<Kernel, 'config'>): string {
  return d.config.https ? '__Host-latchkey_qr' : 'latchkey_qr';
}

const bindingOptions = (d: Pick<Kernel, 'config'>) => ({
  httpOnly: true,
  // Only this site's own pages and scripts ever send it: the poll and the continue button.
  sameSite: 'strict' as const,
  path: '/',
  secure: d.config.https,
  maxAge: 3600,
});

export function readBinding(d: Pick<Kernel, 'config'>, req: FastifyRequest): string | undefined {
  return readCookie(req, bindingCookieName(d));
}

export function setBinding(d: Pick<Kernel, 'config'>, reply: FastifyReply, value: string): void {
  setCookie(reply, bindingCookieName(d), value, bindingOptions(d));
}

export function clearBinding(d: Pick<Kernel, 'config'>, reply: FastifyReply): void {
  clearCookie(reply, bindingCookieName(d), bindingOptions(d));
}

/** The request as the new browser sees it (API and page share it). */
export async function startedView(s: Started) {
  return {
    id: s.id,
    url: s.url,
    code: formatCode(s.code),
    number: s.number,
    qrSvg: await qrSvg(s.url),
    expiresAt: isoTime(s.expiresAt),
    rotateAt: isoTime(s.rotateAt),
    interval: Math.ceil(s.interval / 1000),
  };
}

const Id = Str(64, { minLength: 1, pattern: '^[A-Za-z0-9_-]+$' });
const SecretOrCode = Str(64, { minLength: 1, description: 'the secret of the QR link, or the typed code' });
const Approval = Type.Object({
  id: Type.String(),
  browser: Type.String(),
  os: Type.String(),
  ip: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  differentNetwork: Type.Boolean(),
  passkey: Type.Boolean({ description: 'the account can confirm with a passkey instead of its password (QR-08)' }),
  choices: Type.Array(Type.Integer()),
});

export function registerQrApi(app: FastifyInstance, d: QrApiDeps): void {
  app.post(
    '/api/v1/qr-logins',
    {
      schema: {
        tags: ['qr'],
        summary: 'Start a QR sign-in on this browser: QR code, typed code and number; sets the binding cookie',
        description:
          'QR-01/QR-02: the QR link carries a 256-bit secret stored only as a hash; the typed code (8 characters) is the same request for phones that cannot scan; `number` is what the phone must pick (QR-07). The binding cookie set here is the only way to receive the session. `replaces` (the request this page showed until now) rotates it: the old one ends and the new one keeps its deadline. Rate-limited per IP (QR-05). 404 when QR sign-in is turned off.',
        body: Type.Optional(Type.Object({ replaces: Type.Optional(Id) }, { additionalProperties: false })),
        response: responses(
          {
            201: Type.Object({
              id: Type.String(),
              url: Type.String(),
              code: Type.String(),
              number: Type.Integer(),
              qrSvg: Type.String({ description: 'the QR code of `url`, an SVG element' }),
              expiresAt: Type.String(),
              rotateAt: Type.String(),
              interval: Type.Integer({ description: 'seconds between polls (RFC 8628)' }),
            }),
          },
          [400, 403, 404, 413, 429],
        ),
      },
    },
    async (req, reply) => {
      const body = (req.body ?? {}) as { replaces?: string };
      const s = await d.qr.start(contextOf(req), readBinding(d, req), body.replaces);
      setBinding(d, reply, s.binding);
      return reply.status(201).send(await startedView(s));
    },
  );

  app.get(
    '/api/v1/qr-logins/:id',
    {
      schema: {
        tags: ['qr'],
        summary: 'The new browser polls its QR sign-in; once approved, the session cookie is set here',
        description:
          "Only the browser holding the binding cookie gets an answer (QR-02); anything else is 404, like an unknown id. `pending`: not yet opened on a phone; `shown`: a phone has it; `slow_down`: asked sooner than `interval` (RFC 8628 §3.5), wait the new `interval`; `approved`: signed in (the session cookie is set by this answer, once); `second_factor_required`: approved, but the account's second factor is still to answer on this browser (the pending cookie is set; continue at `/api/v1/sessions/second-factor`, BF-05); `declined`, `expired`: start again.",
        params: Type.Object({ id: Id }),
        response: responses(
          {
            200: Type.Object({
              status: Type.Union(
                ['pending', 'shown', 'slow_down', 'approved', 'second_factor_required', 'declined', 'expired'].map(
                  (s) => Type.Literal(s),
                ),
              ),
              interval: Type.Optional(Type.Integer()),
              number: Type.Optional(Type.Integer()),
              rotate: Type.Optional(
                Type.Boolean({ description: 'time to replace the code (POST /qr-logins with `replaces`)' }),
              ),
              account: Type.Optional(AccountView),
            }),
          },
          [400, 404],
        ),
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const a = await d.qr.poll(id, readBinding(d, req), contextOf(req));
      return reply.send(pollBody(d, reply, a));
    },
  );

  app.get(
    '/api/v1/qr-logins/:id/details',
    {
      schema: {
        tags: ['qr'],
        summary: 'The phone opens a QR sign-in: what browser asks, from where, and three numbers to pick from',
        description:
          'Needs a signed-in session and the secret of the QR link or the typed code (`secret`, QR-03); `id` may be `-` when only the typed code is known. The first account to open a request holds it; another gets 400 `invalid_token` (single use). `differentNetwork` is true when the asking browser is on another network (QR-04). Rate-limited per IP and account (QR-05).',
        params: Type.Object({ id: Id }),
        querystring: Type.Object({ secret: SecretOrCode }),
        response: responses({ 200: Approval }, [400, 401, 403, 404, 429]),
      },
    },
    async (req) => {
      const auth = await requireAuth(d, req);
      const { id } = req.params as { id: string };
      const { secret } = req.query as { secret: string };
      return d.qr.details(id, secret, auth, contextOf(req));
    },
  );

  app.post(
    '/api/v1/qr-logins/:id/approve',
    {
      schema: {
        tags: ['qr'],
        summary:
          'The phone approves a QR sign-in with the secret, the number shown on the new browser and its password or a passkey',
        description:
          "QR-03: without the secret of the QR link (or the typed code) nothing happens. QR-07: a wrong `number` cancels the request (400 `invalid_code`). QR-08: the session must be younger than LATCHKEY_REAUTH_WINDOW (401 `reauthentication_required`) and `password` must be the account's (400 `current_password_wrong`, counted like a sign-in attempt), or instead `webauthn` an assertion of one of the account's passkeys with user verification, answering options from `/api/v1/qr-logins/{id}/approve/passkey-options` (400 `passkey_failed`). QR-06: the new session gets this session's strength, never more.",
        params: Type.Object({ id: Id }),
        body: Type.Object(
          {
            secret: SecretOrCode,
            number: Type.Integer({ minimum: 0, maximum: 99 }),
            password: Type.Optional(Password),
            webauthn: Type.Optional(AssertionJson),
          },
          { additionalProperties: false },
        ),
        response: responses({ 204: Type.Null() }, [400, 401, 403, 404, 413, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const { id } = req.params as { id: string };
      const body = req.body as { secret: string; number: number; password?: string; webauthn?: unknown };
      if (body.password === undefined && body.webauthn === undefined)
        throw new AppError('validation_failed', t('qr.confirm_how'));
      await d.qr.approve(id, body, auth, contextOf(req));
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/qr-logins/:id/approve/passkey-options',
    {
      schema: {
        tags: ['qr'],
        summary: 'The phone starts confirming a QR approval with a passkey: WebAuthn request options',
        description:
          "QR-08 for accounts without a password (or preferring a passkey): `PublicKeyCredentialRequestOptionsJSON` for the account's own passkeys, user verification required. The challenge is bound to this QR request and this session, used once, and expires after LATCHKEY_WEBAUTHN_CHALLENGE_TTL. Needs the secret (QR-03) and a session younger than LATCHKEY_REAUTH_WINDOW (401 `reauthentication_required`); 409 when the account has no usable passkey.",
        params: Type.Object({ id: Id }),
        body: Type.Object({ secret: SecretOrCode }, { additionalProperties: false }),
        response: responses({ 200: OptionsJson }, [400, 401, 403, 404, 409, 413, 429]),
      },
    },
    async (req) => {
      const auth = await requireAuth(d, req);
      const { id } = req.params as { id: string };
      return d.qr.approvalPasskeyOptions(id, (req.body as { secret: string }).secret, auth, contextOf(req));
    },
  );

  app.post(
    '/api/v1/qr-logins/:id/decline',
    {
      schema: {
        tags: ['qr'],
        summary: 'The phone declines a QR sign-in',
        description:
          'Needs the secret of the QR link or the typed code, like approving. The new browser is told `declined`.',
        params: Type.Object({ id: Id }),
        body: Type.Object({ secret: SecretOrCode }, { additionalProperties: false }),
        response: responses({ 204: Type.Null() }, [400, 401, 403, 404, 413, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const { id } = req.params as { id: string };
      await d.qr.decline(id, (req.body as { secret: string }).secret, auth, contextOf(req));
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/v1/organizations/:slug/qr-login',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Whether members of an organization may sign in by QR code (owners and admins only)',
        description:
          'QR-09: `enabled: false` means members can neither open nor approve QR sign-ins. Members and outsiders get 403, audited (ADM-05).',
        params: Type.Object({ slug: Str(40) }),
        response: responses({ 200: Type.Object({ enabled: Type.Boolean() }) }, [401, 403, 404]),
      },
    },
    async (req) => {
      const auth = await requireAuth(d, req);
      return { enabled: await d.qr.forOrganization((req.params as { slug: string }).slug, auth, contextOf(req)) };
    },
  );

  app.put(
    '/api/v1/organizations/:slug/qr-login',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Turn sign-in by QR code on or off for an organization (owners and admins, recent sign-in; audited)',
        description:
          'QR-09. Off: members can no longer open or approve QR sign-ins. LATCHKEY_QR_LOGIN=off turns it off for everyone regardless.',
        params: Type.Object({ slug: Str(40) }),
        body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ enabled: Type.Boolean() }) }, [400, 401, 403, 404, 413]),
      },
    },
    async (req) => {
      const auth = await requireAuth(d, req);
      const { enabled } = req.body as { enabled: boolean };
      await d.qr.setForOrganization((req.params as { slug: string }).slug, enabled, auth, contextOf(req));
      return { enabled };
    },
  );
}

/** The poll's answer; an approval also sets the session cookie and ends the binding cookie. */
export function pollBody(d: QrApiDeps, reply: FastifyReply, a: PollAnswer) {
  if (a.status === 'approved') {
    // A session cookie, or the pending cookie of the second-factor step (BF-05).
    applySignInCookies(d, reply, a.result);
    if (a.result.status === 'second_factor_required') return { status: 'second_factor_required' };
    return { status: a.status, account: accountView(d, a.result.account) };
  }
  if (a.status === 'slow_down') return { status: a.status, interval: Math.ceil(a.interval / 1000) };
  if (a.status === 'pending' || a.status === 'shown')
    return { status: a.status, interval: Math.ceil(a.interval / 1000), number: a.number, rotate: a.rotate };
  return { status: a.status };
}
