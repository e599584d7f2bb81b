import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RecoveryMethodDeps } from '../../flows/recovery/method.ts';
import { contextOf } from '../../web/request.ts';
import { Message, responses, Str } from '../../web/schemas.ts';
import { requestResend } from './resend.ts';

export function registerOtpApi(app: FastifyInstance, d: RecoveryMethodDeps): void {
  app.post(
    '/api/v1/password-resets/resend',
    {
      schema: {
        tags: ['recovery'],
        summary: 'Send a new email or SMS code for a reset request (limited per flow)',
        description:
          'Always 202 with the same body (ENUM-02). The new code replaces the old one; wrong tries so far still count (OTP-04). At most the organization’s `maxResends` per request.',
        body: Type.Object({ flow: Str(64, { minLength: 1 }) }),
        response: responses({ 202: Message }, [400, 413, 429]),
      },
    },
    async (req, reply) => {
      const result = await requestResend(d, req.body as { flow: string }, contextOf(req));
      return reply.status(202).header('cache-control', 'no-store').send(result);
    },
  );
}
