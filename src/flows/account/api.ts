import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { t } from '../../i18n/index.ts';
import { contextOf, type RequestDeps, requireAuth, setSessionCookie } from '../../web/request.ts';
import { Message, Password, responses, SESSION } from '../../web/schemas.ts';
import type { AccountService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type AccountApiDeps = { account: AccountService } & RequestDeps;

export function registerAccountApi(app: FastifyInstance, d: AccountApiDeps): void {
  app.put(
    '/api/v1/account/password',
    {
      schema: {
        security: SESSION,
        tags: ['account'],
        summary: 'Change the password while signed in',
        description:
          'Requires the current password (PWD-05). Ends every other session and gives this one a new cookie (SES-06).',
        body: Type.Object(
          { currentPassword: Password, newPassword: Password },
          { examples: [{ currentPassword: 'old-harbor-quantum-meadow', newPassword: 'violet-harbor-quantum-meadow' }] },
        ),
        response: responses({ 200: Message }, [400, 401, 403, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const { token } = await d.account.changePassword(
        auth,
        req.body as { currentPassword: string; newPassword: string },
        contextOf(req),
      );
      setSessionCookie(d, reply, token);
      return reply.send({ message: t('account.api.password_changed') });
    },
  );
}
