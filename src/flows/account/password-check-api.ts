import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Kernel } from '../../kernel.ts';
import { Password, responses, Str } from '../../web/schemas.ts';

/** What this module uses of the container the composition root builds. */
export type PasswordCheckApiDeps = Pick<Kernel, 'config' | 'policy'>;

/** The policy's verdict for the live hint on password fields; the same check every path enforces. */
export function registerPasswordCheckApi(app: FastifyInstance, d: PasswordCheckApiDeps): void {
  app.post(
    '/api/v1/password-checks',
    {
      schema: {
        tags: ['account'],
        summary: 'Check a candidate password against the policy (nothing is stored)',
        description:
          'Checks a candidate password against the same policy registration and reset use, without storing anything; answers `ok` and the reasons it would be refused. Pages use it for live feedback.',
        body: Type.Object({ password: Password, username: Type.Optional(Str(64)), email: Type.Optional(Str(320)) }),
        response: responses(
          {
            200: Type.Object({
              ok: Type.Boolean(),
              reasons: Type.Array(Type.Object({ code: Type.String(), message: Type.String() })),
            }),
          },
          [400],
        ),
      },
    },
    async (req) => {
      const b = req.body as { password: string; username?: string; email?: string };
      const reasons = d.policy.check(b.password, {
        username: b.username,
        email: b.email,
        productName: d.config.productName,
      });
      return { ok: reasons.length === 0, reasons };
    },
  );
}
