import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { t } from '../../i18n/index.ts';
import { contextOf } from '../../web/request.ts';
import { Captcha, Identifier, Message, Password, responses, Str } from '../../web/schemas.ts';
import type { RegistrationService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type RegistrationApiDeps = { registration: RegistrationService };

export function registerRegistrationApi(app: FastifyInstance, d: RegistrationApiDeps): void {
  app.post(
    '/api/v1/registrations',
    {
      schema: {
        tags: ['registration'],
        summary: 'Create a pending account and mail an activation link and code',
        description:
          'Answers 202 with the same body whether or not the email is already registered (ENUM-03); the owner of an existing email gets a notice instead.',
        body: Type.Object(
          {
            username: Str(64, { minLength: 1 }),
            email: Str(320, { minLength: 1 }),
            password: Password,
            captcha: Captcha,
          },
          { examples: [{ username: 'alice', email: 'alice@example.com', password: 'violet-harbor-quantum-meadow' }] },
        ),
        response: responses({ 202: Message }, [400, 409, 413, 429]),
      },
    },
    async (req, reply) => {
      const body = req.body as { username: string; email: string; password: string; captcha?: string };
      const result = await d.registration.register(body, contextOf(req));
      return reply.status(202).send(result);
    },
  );

  app.post(
    '/api/v1/activations',
    {
      schema: {
        tags: ['registration'],
        summary: 'Activate a pending account with the link token, or identifier + typed code',
        description:
          'Opening the mailed link only shows a button; this call does the activation. A wrong or expired token or code gets 400 `invalid_token` / `invalid_code`; a code stops working after 5 wrong tries.',
        body: Type.Union(
          [
            Type.Object({ token: Str(128, { minLength: 1 }) }),
            Type.Object({ identifier: Identifier, code: Str(32, { minLength: 1 }) }),
          ],
          { examples: [{ identifier: 'alice', code: 'K7QM-2XRT' }] },
        ),
        response: responses({ 200: Message }, [400, 429]),
      },
    },
    async (req) => {
      // The union lets the other branch's keys through with any type ({token, identifier: []}):
      // hand the service strings only (WEB-04).
      const body = req.body as Record<string, unknown>;
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      const token = str(body.token);
      await d.registration.activate(
        token ? { token } : { identifier: str(body.identifier), code: str(body.code) },
        contextOf(req),
      );
      return { message: t('signin.msg.activated') };
    },
  );

  app.post(
    '/api/v1/activations/resend',
    {
      schema: {
        tags: ['registration'],
        summary: 'Send a new activation link and code to a pending account',
        description:
          'The "Didn\'t get the activation mail?" request: 202 with the same body for every identifier, whether or not it names a pending account (ENUM-03). ' +
          'A new mail ends the earlier link and code; mails per account are capped silently, requests are limited per IP and identifier.',
        body: Type.Object({ identifier: Identifier, captcha: Captcha }, { examples: [{ identifier: 'alice' }] }),
        response: responses({ 202: Message }, [400, 429]),
      },
    },
    async (req, reply) => {
      const body = req.body as { identifier: string; captcha?: string };
      return reply.status(202).send(await d.registration.resendActivation(body, contextOf(req)));
    },
  );
}
