import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isoTime } from '../../security/clock.ts';
import type { Authenticated } from '../../web/auth.ts';
import { authOf, clearSessionCookie, contextOf, type RequestDeps, requireAuth, signedIn } from '../../web/request.ts';
import { JSON_TYPE, responses, SESSION, Str } from '../../web/schemas.ts';
import type { SessionService } from './service.ts';
import { AccountView, accountView, SessionItem, SessionRef, type SessionsViewsDeps } from './views.ts';

/** What this module uses of the container the composition root builds. */
export type SessionsApiDeps = { sessions: SessionService } & RequestDeps & SessionsViewsDeps;

export function registerSessionsApi(app: FastifyInstance, d: SessionsApiDeps): void {
  // The answer depends only on the session and account, and the service hands out one frozen
  // Authenticated object per stored row until that row changes; so each row's answer is
  // serialised once, by the route's own schema serializer, and sent as it is from then on.
  const currentAnswers = new WeakMap<Authenticated, string>();
  app.get(
    '/api/v1/sessions/current',
    {
      schema: {
        tags: ['sessions'],
        summary: 'The signed-in account, or 401',
        security: SESSION,
        description:
          '200 with the account and this session while the session cookie is valid; 401 `unauthorized` otherwise. Apps can call it to check a sign-in.',
        response: responses({ 200: Type.Object({ account: AccountView, session: SessionRef }) }, [401]),
      },
    },
    // Not async: with SQLite behind it the whole check runs in one tick, no promise involved.
    // The handler answers the body and Fastify sends it. Sending from inside the handler and
    // answering nothing measured far worse under load: most of what a request allocated then
    // outlived the young generation (heap 56 -> 235 MB every 4 s, 11-15 ms scavenges, p99 up
    // by half), where the same body returned here leaves scavenges at 0.5 ms. Returning the
    // reply object instead would make Fastify wait for the response through Reply#then.
    (req, reply) => {
      const auth = authOf(d, req);
      if (auth instanceof Promise) return auth.then((a) => answer(signedIn(a), reply));
      return answer(signedIn(auth), reply);
    },
  );
  function answer(auth: Authenticated, reply: FastifyReply): string {
    let body = currentAnswers.get(auth);
    if (body === undefined) {
      body = reply.serialize({
        account: accountView(d, auth.account),
        session: { id: auth.session.id, expiresAt: isoTime(auth.session.expires_at) },
      }) as string;
      currentAnswers.set(auth, body);
    }
    reply.header('content-type', JSON_TYPE);
    return body;
  }

  app.delete(
    '/api/v1/sessions/current',
    {
      schema: {
        security: SESSION,
        tags: ['sessions'],
        summary: 'Sign out: ends the session on the server',
        description: 'Ends this session on the server and clears the cookie (SES-04). Other sessions stay.',
        response: responses({ 204: Type.Null() }, [401, 403]),
      },
    },
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
        security: SESSION,
        tags: ['sessions'],
        summary: "The signed-in account's sessions",
        description:
          'Every live session of the signed-in account, newest first, with its device, IP, sign-in time and method; `current` marks this one (SES-08).',
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
        security: SESSION,
        tags: ['sessions'],
        summary: 'End one of your own sessions',
        description:
          "Ends one of the account's own sessions by id; an id that is not the caller's answers 404. Ending the current one also clears the cookie.",
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
