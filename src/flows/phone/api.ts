import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { t } from '../../i18n/index.ts';
import { contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { Message, responses, SESSION, Str } from '../../web/schemas.ts';
import { PHONE_EXAMPLE_E164 } from './numbers.ts';
import type { PhoneService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type PhoneApiDeps = { phone: PhoneService } & RequestDeps;

export function registerPhoneApi(app: FastifyInstance, d: PhoneApiDeps): void {
  app.put(
    '/api/v1/account/phone',
    {
      schema: {
        security: SESSION,
        tags: ['account'],
        summary: 'Add or change the mobile number: sends a code to it (needs a recent sign-in)',
        description:
          'The number counts only after `POST /account/phone/confirmation` with the code (OTP-05). Sends are capped per number, account and IP.',
        body: Type.Object({
          phone: Str(40, {
            minLength: 1,
            description: `international format, e.g. ${PHONE_EXAMPLE_E164}`,
            examples: [PHONE_EXAMPLE_E164],
          }),
        }),
        response: responses({ 202: Type.Object({ message: Type.String(), pending: Type.String() }) }, [400, 401, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const result = await d.phone.startVerification(auth, req.body as { phone: string }, contextOf(req));
      return reply.status(202).header('cache-control', 'no-store').send(result);
    },
  );

  app.post(
    '/api/v1/account/phone/confirmation',
    {
      schema: {
        security: SESSION,
        tags: ['account'],
        summary: 'Confirm the mobile number with the code sent to it',
        description:
          'Confirms the number with the code texted to it by `PUT /account/phone`; the code works within 10 minutes and for 5 tries.',
        body: Type.Object({ code: Str(32, { minLength: 1 }) }),
        response: responses({ 200: Type.Object({ phone: Type.String() }) }, [400, 401, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const result = await d.phone.confirm(auth, req.body as { code: string }, contextOf(req));
      return reply.header('cache-control', 'no-store').send(result);
    },
  );

  app.delete(
    '/api/v1/account/phone',
    {
      schema: {
        security: SESSION,
        tags: ['account'],
        summary: 'Remove the mobile number (needs a recent sign-in; the email and the old number are told)',
        description:
          "Removes the mobile number (needs a recent sign-in, SES-07); a notice goes to the account's email address and the number.",
        response: responses({ 200: Message }, [401]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      await d.phone.remove(auth, contextOf(req));
      return reply.header('cache-control', 'no-store').send({ message: t('phone.removed') });
    },
  );
}
