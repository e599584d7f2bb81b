import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Kernel } from '../../kernel.ts';
import { contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { responses, SESSION, Str } from '../../web/schemas.ts';
import type { ExternalAccounts } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type ExternalApiDeps = Pick<Kernel, 'config'> & { external: ExternalAccounts } & RequestDeps;

const ProviderItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.Union([Type.Literal('oidc'), Type.Literal('oauth2')]),
  startUrl: Type.String({
    description: 'open in the browser to sign in; accepts ?return_to= (same origin or allow-listed)',
  }),
});

const IdentityItem = Type.Object({
  id: Type.String(),
  provider: Type.String(),
  providerName: Type.String(),
  displayName: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  linkedAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});

export function registerExternalApi(app: FastifyInstance, d: ExternalApiDeps): void {
  app.get(
    '/api/v1/providers',
    {
      schema: {
        tags: ['external'],
        summary: 'Enabled external sign-in providers',
        description:
          'The external sign-in providers this install offers (id and name), for a client to draw its buttons.',
        response: responses({ 200: Type.Object({ providers: Type.Array(ProviderItem) }) }, []),
      },
    },
    async () => ({
      providers: d.external.providers.map((p) => ({
        id: p.id,
        name: p.name,
        kind: p.kind,
        startUrl: `${d.config.publicUrl}/auth/${p.id}/start`,
      })),
    }),
  );

  app.get(
    '/api/v1/account/identities',
    {
      schema: {
        security: SESSION,
        tags: ['external'],
        summary: "The signed-in account's linked external accounts",
        description:
          'External accounts linked to the signed-in account, with the provider, display name and when they were linked.',
        response: responses({ 200: Type.Object({ identities: Type.Array(IdentityItem) }) }, [401]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      reply.header('cache-control', 'no-store');
      return { identities: await d.external.list(auth.account.id) };
    },
  );

  app.delete(
    '/api/v1/account/identities/:id',
    {
      schema: {
        security: SESSION,
        tags: ['external'],
        summary: 'Unlink an external account (needs a recent sign-in; refused for the last way to sign in)',
        description:
          "Unlinks an external account (needs a recent sign-in, SES-07). Refused with 409 `last_sign_in_method` when it is the account's only way to sign in.",
        params: Type.Object({ id: Str(64) }),
        response: responses({ 204: Type.Null() }, [401, 403, 404, 409]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const { id } = req.params as { id: string };
      await d.external.unlink(auth, id, contextOf(req));
      return reply.status(204).send();
    },
  );
}
