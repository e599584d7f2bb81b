import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { clearSessionCookie, contextOf, requireAuth } from '../../web/request.ts';
import { responses, Str } from '../../web/schemas.ts';
import { AccountView, SessionItem, SessionRef, accountView } from './views.ts';

export function registerSessionsApi(app: FastifyInstance, d: Deps): void {
  app.get(
    '/api/v1/sessions/current',
    {
      schema: {
        tags: ['sessions'],
        summary: 'The signed-in account, or 401',
        response: responses({ 200: Type.Object({ account: AccountView, session: SessionRef }) }, [401]),
      },
    },
    async (req) => {
      const auth = await requireAuth(d, req);
      return {
        account: accountView(d, auth.account),
        session: { id: auth.session.id, expiresAt: new Date(auth.session.expires_at).toISOString() },
      };
    },
  );

  app.delete(
    '/api/v1/sessions/current',
    { schema: { tags: ['sessions'], summary: 'Sign out: ends the session on the server', response: responses({ 204: Type.Null() }, [401, 403]) } },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      await d.sessions.signOut(auth.session, contextOf(req));
      clearSessionCookie(d, reply);
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: "The signed-in account's sessions",
        response: responses({ 200: Type.Object({ sessions: Type.Array(SessionItem) }) }, [401]),
      },
    },
    async (req) => {
      const auth = await requireAuth(d, req);
      return { sessions: await d.sessions.list(auth.account.id, auth.session.id) };
    },
  );

  app.delete(
    '/api/v1/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'End one of your own sessions',
        params: Type.Object({ id: Str(64) }),
        response: responses({ 204: Type.Null() }, [401, 403, 404]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const { id } = req.params as { id: string };
      await d.sessions.revoke(auth.account.id, id, contextOf(req));
      if (id === auth.session.id) clearSessionCookie(d, reply);
      return reply.status(204).send();
    },
  );
}
