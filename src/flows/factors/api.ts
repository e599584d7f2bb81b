import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { responses, Str } from '../../web/schemas.ts';
import type { FactorService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type FactorsApiDeps = { factors: FactorService } & RequestDeps;

const Factor = Type.Object({
  id: Type.String(),
  type: Type.String({ description: 'totp or passkey' }),
  name: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
const Codes = Type.Array(Type.String(), { description: 'shown once; each works once (OTP-07)' });
const STEP_UP =
  'Needs a sign-in within LATCHKEY_REAUTH_WINDOW, made with a second factor when the account has one (MFA-06, SES-07); otherwise 401 `reauthentication_required`.';

export function registerFactorsApi(app: FastifyInstance, d: FactorsApiDeps): void {
  app.get(
    '/api/v1/account/factors',
    {
      schema: {
        tags: ['factors'],
        summary: 'Your second factors and how many recovery codes are left',
        description: 'Confirmed factors only; secrets and public keys are never returned.',
        response: responses(
          { 200: Type.Object({ factors: Type.Array(Factor), recoveryCodesLeft: Type.Integer() }) },
          [401],
        ),
      },
    },
    async (req) => {
      const auth = await requireAuth(d, req);
      return d.factors.list(auth.account.id);
    },
  );

  app.post(
    '/api/v1/account/factors/totp',
    {
      schema: {
        tags: ['factors'],
        summary: 'Start adding an authenticator app',
        description: `Answers a new 160-bit secret, its otpauth:// URI and an SVG QR code, shown once; the app counts only after \`POST /api/v1/account/factors/totp/confirm\` (MFA-01). 409 when one is already set up. ${STEP_UP}`,
        response: responses(
          {
            201: Type.Object({
              factorId: Type.String(),
              secret: Type.String(),
              uri: Type.String(),
              qrSvg: Type.String(),
            }),
          },
          [401, 403, 409],
        ),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      return reply.status(201).send(await d.factors.startTotp(auth));
    },
  );

  app.post(
    '/api/v1/account/factors/totp/confirm',
    {
      schema: {
        tags: ['factors'],
        summary: 'Confirm the authenticator app with a code from it',
        description: `A valid 6-digit code turns it on. The first factor also answers 10 recovery codes, shown once. A notice is mailed (LOG-03). ${STEP_UP}`,
        body: Type.Object({ code: Str(16, { minLength: 1 }) }, { additionalProperties: false }),
        response: responses(
          { 201: Type.Object({ factor: Factor, recoveryCodes: Type.Optional(Codes) }) },
          [400, 401, 403, 409, 429],
        ),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const { code } = req.body as { code: string };
      return reply.status(201).send(await d.factors.confirmTotp(auth, code, contextOf(req)));
    },
  );

  app.delete(
    '/api/v1/account/factors/:id',
    {
      schema: {
        tags: ['factors'],
        summary: 'Remove one of your second factors',
        description: `Removing the last one voids the recovery codes; refused (409) when your organization requires a second factor (MFA-08), or when it is the last passkey of an account without a password or linked account (last_sign_in_method). Remembered browsers are forgotten and a notice is mailed. ${STEP_UP}`,
        params: Type.Object({ id: Str(64) }),
        response: responses({ 204: Type.Null() }, [401, 403, 404, 409]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      await d.factors.remove(auth, (req.params as { id: string }).id, contextOf(req));
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/account/recovery-codes',
    {
      schema: {
        tags: ['factors'],
        summary: 'Create a new set of recovery codes, voiding the old ones',
        description: `10 codes of 73 bits each, stored hashed, each single use (OTP-07, MFA-05); shown once. 409 without a second factor. $STEP_UP`,
        response: responses({ 201: Type.Object({ recoveryCodes: Codes }) }, [401, 403, 409]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      return reply.status(201).send({ recoveryCodes: await d.factors.regenerateCodes(auth, contextOf(req)) });
    },
  );
}
