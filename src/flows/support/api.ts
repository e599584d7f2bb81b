import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { contextOf } from '../../web/request.ts';
import { Captcha, Identifier, Message, responses, Str } from '../../web/schemas.ts';
import { MESSAGE_MAX, type SupportRequestInput, type SupportService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type SupportApiDeps = { support: SupportService };

export const SupportStatusBody = Type.Object({
  ref: Type.String({ description: 'the reference mailed to the contact address' }),
  status: Type.Union([Type.Literal('open'), Type.Literal('answered'), Type.Literal('closed')]),
  createdAt: Type.Integer({ description: 'epoch milliseconds' }),
  messages: Type.Array(
    Type.Object({
      from: Type.Union([Type.Literal('you'), Type.Literal('support')]),
      body: Type.String(),
      at: Type.Integer(),
    }),
  ),
});

export function registerSupportApi(app: FastifyInstance, d: SupportApiDeps): void {
  app.post(
    '/api/v1/support-requests',
    {
      schema: {
        tags: ['support'],
        summary: 'Ask staff for help with an account ("Contact support")',
        description:
          'Always 202 with the same body for existing, unknown, pending and disabled accounts alike (ADM-08): the account lookup, the stored request and the mail happen after the response. The contact address gets a reference and a signed link to the request’s status. Rate-limited per client IP and per contact address, and CAPTCHA-guarded.',
        body: Type.Object({
          identifier: Identifier,
          contact: Str(320, { minLength: 1, description: 'an email address staff can reply to' }),
          message: Str(MESSAGE_MAX * 2, { minLength: 1, description: 'what happened' }),
          captcha: Captcha,
        }),
        response: responses({ 202: Message }, [400, 413, 429]),
      },
    },
    async (req, reply) => {
      const result = await d.support.file(req.body as SupportRequestInput, contextOf(req));
      return reply.status(202).header('cache-control', 'no-store').send(result);
    },
  );

  app.get(
    '/api/v1/support-requests/:id',
    {
      schema: {
        tags: ['support'],
        summary: 'A support request and the replies to it, for the holder of its signed status link',
        description:
          'Needs the `sig` of the mailed link. An unknown request and a wrong or missing signature answer the same 404.',
        params: Type.Object({ id: Str(64) }),
        querystring: Type.Object({ sig: Type.Optional(Str(128)) }),
        response: responses({ 200: SupportStatusBody }, [400, 404]),
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const { sig } = req.query as { sig?: string };
      const status = await d.support.status(id, sig ?? '');
      return reply.header('cache-control', 'no-store').send(status);
    },
  );
}
