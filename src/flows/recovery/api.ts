import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { Captcha, Identifier, Message, Password, responses, SESSION, Str } from '../../web/schemas.ts';
import type { RecoveryMethods, ResetCompleteInput } from './method.ts';
import type { RecoveryService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type RecoveryApiDeps = { recovery: RecoveryService; recoveryMethods: RecoveryMethods } & RequestDeps;

export function registerRecoveryApi(app: FastifyInstance, d: RecoveryApiDeps): void {
  const picks = d.recoveryMethods
    .all()
    .map((m) => `'${m.id}'${m.byDefault ? ' (default)' : ''}`)
    .join(', ');
  app.post(
    '/api/v1/password-resets',
    {
      schema: {
        tags: ['recovery'],
        summary: 'Ask for a password reset link and code by email',
        description:
          'Always 202 with the same body and headers, for existing, unknown, pending and disabled accounts alike (ENUM-02): the account lookup, token write and mail happen after the response. Only real, enabled accounts with an email get mail, capped per hour (REC-06).',
        body: Type.Object(
          {
            identifier: Identifier,
            captcha: Captcha,
            method: Type.Optional(Str(32, { description: `the recovery method the user picked: one of ${picks}` })),
          },
          { examples: [{ identifier: 'alice@example.com' }] },
        ),
        response: responses(
          {
            202: Type.Object({
              message: Type.String(),
              flow: Type.Optional(Type.String({ description: 'for code methods: send it back with the code' })),
            }),
          },
          [400, 413, 429],
        ),
      },
    },
    async (req, reply) => {
      const result = await d.recovery.request(
        req.body as { identifier: string; captcha?: string; method?: string },
        contextOf(req),
      );
      return reply.status(202).header('cache-control', 'no-store').send(result);
    },
  );

  app.post(
    '/api/v1/password-resets/complete',
    {
      schema: {
        tags: ['recovery'],
        summary: 'Set a new password with the link token, or identifier + typed code',
        description:
          'Ends every session of the account and every outstanding token and code, and mails a notice (REC-09). Creates no session: sign in again (REC-07). `invalid_token` / `invalid_code` are identical for unknown, wrong, expired, used and superseded secrets.',
        body: Type.Union(
          [
            Type.Object({ token: Str(128, { minLength: 1 }), password: Password }),
            Type.Object({
              identifier: Identifier,
              code: Str(32, { minLength: 1 }),
              flow: Type.Optional(Str(64)),
              password: Password,
            }),
          ],
          { examples: [{ identifier: 'alice', code: 'K7QM-2XRT', password: 'violet-harbor-quantum-meadow' }] },
        ),
        response: responses({ 200: Message }, [400, 413, 429]),
      },
    },
    async (req, reply) => {
      const result = await d.recovery.complete(req.body as ResetCompleteInput, contextOf(req));
      return reply.header('cache-control', 'no-store').send(result);
    },
  );

  app.post(
    '/api/v1/account/password-reset-email',
    {
      schema: {
        security: SESSION,
        tags: ['account'],
        summary: 'Mail a reset link and code to the signed-in account’s address ("Send Reset Email")',
        description:
          'The signed-in "Send reset email": a reset link and code go to the address on file, limited like any reset request.',
        response: responses({ 202: Message }, [401, 403, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const result = await d.recovery.requestForSelf(auth, contextOf(req));
      return reply.status(202).header('cache-control', 'no-store').send(result);
    },
  );
}
