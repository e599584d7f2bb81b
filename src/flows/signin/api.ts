import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { isoTime } from '../../security/clock.ts';
import { contextOf, type RequestDeps, setSessionCookie } from '../../web/request.ts';
import { Captcha, Identifier, Password, responses } from '../../web/schemas.ts';
import { AccountView, accountView, SessionRef, type SessionsViewsDeps } from '../sessions/views.ts';
import type { SignInService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type SigninApiDeps = { signIn: SignInService } & RequestDeps & SessionsViewsDeps;

export function registerSignInApi(app: FastifyInstance, d: SigninApiDeps): void {
  app.post(
    '/api/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Sign in with username or email and password; sets the session cookie',
        description:
          'Unknown user, wrong password, pending, disabled and locked accounts all get the same 401 `invalid_credentials` (ENUM-01). ' +
          'After repeated failures (per identifier or per IP) the answer is 400 `captcha_required`: solve a CAPTCHA and repeat the request with it in `captcha` ' +
          '(ALTCHA: `GET /api/v1/captcha/challenge`, then send the base64 solution; see the `captcha` field).',
        body: Type.Object(
          {
            identifier: Identifier,
            password: Password,
            captcha: Captcha,
            remember: Type.Optional(
              Type.Boolean({
                description:
                  'true: the cookie lasts the session lifetime (LATCHKEY_SESSION_ABSOLUTE_TTL); otherwise it ends with the browser session',
              }),
            ),
          },
          { examples: [{ identifier: 'alice', password: 'violet-harbor-quantum-meadow' }] },
        ),
        response: responses({ 201: Type.Object({ account: AccountView, session: SessionRef }) }, [400, 401, 413, 429]),
      },
    },
    async (req, reply) => {
      const { remember, ...body } = req.body as {
        identifier: string;
        password: string;
        captcha?: string;
        remember?: boolean;
      };
      const { token, session, account } = await d.signIn.withPassword(body, contextOf(req));
      setSessionCookie(d, reply, token, remember === true);
      return reply.status(201).send({
        account: accountView(d, account),
        session: { id: session.id, expiresAt: isoTime(session.expires_at) },
      });
    },
  );
}
