import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError, toProblem } from '../../errors.ts';
import { AccountView, accountView, SessionRef, type SessionsViewsDeps } from '../../flows/sessions/views.ts';
import { applySignInCookies, type StepCookieDeps } from '../../flows/signin/step-cookies.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { isoTime } from '../../security/clock.ts';
import { contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { Message, NO_CREDENTIAL, responses, Str } from '../../web/schemas.ts';
import { type PasskeyRecoveryDeps, recoverWithPasskey, recoveryOptions } from './recovery.ts';
import type { PasskeyService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type PasskeyApiDeps = Pick<Kernel, 'random'> & { passkeys: PasskeyService } & PasskeyRecoveryDeps &
  RequestDeps &
  SessionsViewsDeps &
  StepCookieDeps;

// Bounds on WebAuthn JSON: generous for real authenticators (a post-quantum key or signature is a
// few KiB), small enough that a hostile client is refused before any parsing (400), and the
// body limit (LATCHKEY_BODY_LIMIT) answers 413 above that.
const B64 = (max: number) => Str(max, { pattern: '^[A-Za-z0-9_-]*={0,2}$' });
const CredentialId = B64(1400);
const Extensions = Type.Optional(Type.Object({}, { additionalProperties: true, maxProperties: 16 }));

export const AttestationJson = Type.Object(
  {
    id: CredentialId,
    rawId: CredentialId,
    type: Type.Literal('public-key'),
    response: Type.Object({
      clientDataJSON: B64(4096),
      attestationObject: B64(16384),
      authenticatorData: Type.Optional(B64(12288)),
      publicKey: Type.Optional(B64(4096)),
      publicKeyAlgorithm: Type.Optional(Type.Integer()),
      transports: Type.Optional(Type.Array(Str(32), { maxItems: 10 })),
    }),
    authenticatorAttachment: Type.Optional(Str(32)),
    clientExtensionResults: Extensions,
  },
  { description: 'what @simplewebauthn/browser startRegistration() returns (RegistrationResponseJSON)' },
);

export const AssertionJson = Type.Object(
  {
    id: CredentialId,
    rawId: CredentialId,
    type: Type.Literal('public-key'),
    response: Type.Object({
      clientDataJSON: B64(4096),
      authenticatorData: B64(4096),
      signature: B64(8192),
      userHandle: Type.Optional(B64(128)),
    }),
    authenticatorAttachment: Type.Optional(Str(32)),
    clientExtensionResults: Extensions,
  },
  { description: 'what @simplewebauthn/browser startAuthentication() returns (AuthenticationResponseJSON)' },
);

/** WebAuthn options as @simplewebauthn/browser takes them (`optionsJSON`); every field is kept. */
export const OptionsJson = Type.Object(
  { challenge: Type.String({ description: 'base64url, 256 random bits, single use' }) },
  { additionalProperties: true },
);

export const PasskeyView = Type.Object({
  id: Type.String(),
  kind: Type.Literal('passkey'),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  flaggedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/**
 * Passwordless challenges are bound to their ceremony by purpose and by being single use: the
 * options answer is the only place the 256-bit challenge appears. No cookie is set for them, so
 * /login, which asks for options as it loads (the username autofill), leaves no cookie behind
 * until someone signs in.
 */
const PASSWORDLESS = 'passwordless';

export function registerPasskeyApi(app: FastifyInstance, d: PasskeyApiDeps): void {
  app.post(
    '/api/v1/account/factors/passkeys/options',
    {
      schema: {
        tags: ['second factors'],
        summary: 'Start adding a passkey: WebAuthn creation options (needs a recent sign-in)',
        description:
          'Answers `PublicKeyCredentialCreationOptionsJSON` for `navigator.credentials.create()` (or @simplewebauthn/browser `startRegistration`). The challenge is bound to this session, used once, and expires after LATCHKEY_WEBAUTHN_CHALLENGE_TTL (MFA-04). A sign-in older than LATCHKEY_REAUTH_WINDOW, or without a second factor when the account has one, gets 401 `reauthentication_required` (SES-07, MFA-06).',
        response: responses({ 200: OptionsJson }, [401, 409, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      return reply.send(await d.passkeys.registrationOptions(auth));
    },
  );

  app.post(
    '/api/v1/account/factors/passkeys',
    {
      schema: {
        tags: ['second factors'],
        summary: 'Finish adding a passkey with the authenticator’s answer',
        description:
          'Verifies the attestation (challenge, origin = LATCHKEY_PUBLIC_URL, RP ID = LATCHKEY_WEBAUTHN_RP_ID) and stores the public key. The account’s email is told (LOG-03). Anything that cannot be verified is 400 `passkey_failed`.',
        body: Type.Object({
          name: Type.Optional(Str(64, { description: 'shown in the list, e.g. "Phone"' })),
          response: AttestationJson,
        }),
        response: responses({ 201: Type.Object({ factor: PasskeyView }) }, [400, 401, 409, 413, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const factor = await d.passkeys.register(auth, req.body as { name?: string; response: unknown }, contextOf(req));
      return reply.status(201).send({ factor });
    },
  );

  // Until the generic `GET /account/factors` and `DELETE /account/factors/{id}` (second factors
  // flow) list and remove passkeys too, these do it for passkeys alone.
  app.get(
    '/api/v1/account/factors/passkeys',
    {
      schema: {
        tags: ['second factors'],
        summary: "The account's passkeys, with their names and dates",
        description:
          '`flaggedAt` is set once a passkey’s signature counter went backwards: it no longer signs in (MFA-04).',
        response: responses({ 200: Type.Object({ passkeys: Type.Array(PasskeyView) }) }, [401]),
      },
    },
    async (req) => {
      const auth = await requireAuth(d, req);
      return { passkeys: await d.passkeys.list(auth.account.id) };
    },
  );

  app.delete(
    '/api/v1/account/factors/passkeys/:id',
    {
      schema: {
        tags: ['second factors'],
        summary: 'Remove a passkey (needs a recent sign-in, with a second factor)',
        description:
          'Refused with 409 `last_sign_in_method` when it is the only way left to sign in (no password, no linked account). The account’s email is told (LOG-03). 401 `reauthentication_required` as for adding one (SES-07, MFA-06).',
        params: Type.Object({ id: Str(64) }),
        response: responses({ 200: Message }, [401, 404, 409]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      await d.passkeys.remove(auth, (req.params as { id: string }).id, contextOf(req));
      return reply.send({ message: t('passkey.removed') });
    },
  );

  app.post(
    '/api/v1/password-resets/passkey/options',
    {
      schema: {
        tags: ['password resets'],
        summary: 'Recover a passkey-only account: creation options for a new passkey, with the reset link token',
        description:
          'Only for a live reset link of an account without a password whose only factors are passkeys (otherwise 400 `invalid_token`, as for a dead link; such accounts set a password instead, and the next sign-in still asks for the second factor, REC-08). The challenge is bound to the link, used once, and user verification is required.',
        body: Type.Object({ token: Str(128, { minLength: 1 }) }),
        response: responses({ 200: OptionsJson }, [400, 429]),
      },
    },
    async (req, reply) => reply.send(await recoveryOptions(d, (req.body as { token: string }).token, contextOf(req))),
  );

  app.post(
    '/api/v1/password-resets/passkey',
    {
      schema: {
        tags: ['password resets'],
        summary: 'Recover a passkey-only account: add the new passkey, using the reset link up',
        description:
          'Like a completed reset: the link is used up, every session and outstanding reset secret ends, the owner is told; no session is issued (sign in with the new passkey).',
        body: Type.Object({
          token: Str(128, { minLength: 1 }),
          name: Type.Optional(Str(64)),
          response: AttestationJson,
        }),
        response: responses({ 200: Message }, [400, 409, 413, 429]),
      },
    },
    async (req, reply) => {
      await recoverWithPasskey(d, req.body as { token: string; name?: string; response: unknown }, contextOf(req));
      return reply.send({ message: t('passkey.recovered') });
    },
  );

  app.post(
    '/api/v1/sessions/passkey/options',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Start a passkey sign-in (no username): WebAuthn request options',
        description:
          'Answers `PublicKeyCredentialRequestOptionsJSON` for a discoverable credential (empty allowCredentials, user verification required) The challenge is single use, expires after LATCHKEY_WEBAUTHN_CHALLENGE_TTL and is good for this ceremony only (not for adding a passkey or a second factor). No cookie is set.',
        response: responses({ 200: OptionsJson }, [429]),
      },
    },
    async (_req, reply) => {
      return reply.send(await d.passkeys.signInOptions(PASSWORDLESS));
    },
  );

  app.post(
    '/api/v1/sessions/passkey',
    {
      schema: {
        tags: ['sessions'],
        security: NO_CREDENTIAL,
        summary: 'Sign in with a passkey alone; sets the session cookie',
        description:
          'Checks the assertion against a passwordless challenge (single use, unexpired), the origin, the RP ID, user verification (required: the session records amr hwk+user, two factors) and the signature counter. A counter that goes backwards flags the passkey, which then never signs in, and tells its owner (MFA-04). Every refusal is 400 `passkey_failed`.',
        body: Type.Object({ response: AssertionJson }),
        response: responses(
          { 201: Type.Object({ status: Type.Literal('signed_in'), account: AccountView, session: SessionRef }) },
          [400, 401, 413, 429],
        ),
      },
    },
    async (req, reply) => {
      const r = await d.passkeys.signIn((req.body as { response: unknown }).response, PASSWORDLESS, contextOf(req));
      // A user-verified passkey is two factors: the step never follows (kept for the type's sake).
      applySignInCookies(d, reply, r);
      if (r.status !== 'signed_in') return reply.status(401).send(toProblem(new AppError('unauthorized')));
      return reply.status(201).send({
        status: 'signed_in',
        account: accountView(d, r.account),
        session: { id: r.session.id, expiresAt: isoTime(r.session.expires_at) },
      });
    },
  );
}
