import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import { DEFAULT_ORG_SLUG } from '../../store/organizations.ts';
import { authOf, contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { Message, responses, Str } from '../../web/schemas.ts';
import type { OrganizationService } from '../organizations/service.ts';
import { type BrandInput, type BrandService, LOGO_MAX_BYTES } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type BrandApiDeps = { brandService: BrandService; organizations: OrganizationService } & RequestDeps;

const SlugParams = Type.Object({ slug: Type.String({ maxLength: 40 }) });
const Nullable = (max: number, extra: Record<string, unknown> = {}) => Type.Union([Str(max, extra), Type.Null()]);

const BrandView = Type.Object({
  displayName: Type.String(),
  primaryColor: Type.String(),
  primaryColorDark: Type.String(),
  supportContact: Type.String(),
  supportUrl: Type.Union([Type.String(), Type.Null()]),
  logoUrl: Type.Union([Type.String(), Type.Null()]),
});

/** A year: the logo's URL carries its version, so a new upload is a new URL. */
const LOGO_CACHE = 'public, max-age=31536000, immutable';

export function registerBrandApi(app: FastifyInstance, d: BrandApiDeps): void {
  // Every page's favicon and help link come from the brands (src/flows/brand/page-brand.ts).
  app.addHook('onReady', () => d.brandService.servePageBrand());
  const slugOf = (req: { params: unknown }) => (req.params as { slug: string }).slug;

  app.get(
    '/api/v1/organizations/:slug/brand',
    {
      schema: {
        tags: ['organizations'],
        summary: "An organization's brand (owners and admins only)",
        description: 'Display name, primary colours, support contact and link, and the logo URL (with its version).',
        params: SlugParams,
        response: responses({ 200: BrandView }, [401, 403, 404]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      await d.organizations.requireAdmin(slugOf(req), auth.account, contextOf(req), 'organization.read');
      return reply.header('cache-control', 'no-store').send(await d.brandService.view(slugOf(req)));
    },
  );

  app.put(
    '/api/v1/organizations/:slug/brand',
    {
      schema: {
        tags: ['organizations'],
        summary: "Change an organization's brand (owners and admins, with a recent sign-in; audited)",
        description:
          'Fields left out keep their value; `null` or "" returns a field to the install default. Colours are `#rrggbb` and must reach a WCAG contrast of 4.5:1: `primaryColor` against white (button text, cards), `primaryColorDark` against the dark-mode background; a colour that does not is a 400 naming its ratio. Members get 403 (ADM-05); an old sign-in 401 `reauthentication_required` (SES-07).',
        params: SlugParams,
        body: Type.Object(
          {
            displayName: Type.Optional(Str(100, { minLength: 1, examples: ['Acme'] })),
            primaryColor: Type.Optional(Nullable(7, { examples: ['#1f5fbf'] })),
            primaryColorDark: Type.Optional(Nullable(7, { examples: ['#79b8ff'] })),
            supportContact: Type.Optional(Nullable(200, { examples: ['the Acme help desk'] })),
            supportUrl: Type.Optional(Nullable(500, { examples: ['https://help.acme.example/'] })),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: BrandView }, [400, 401, 403, 404, 413]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const view = await d.brandService.update(slugOf(req), auth, req.body as BrandInput, contextOf(req));
      return reply.header('cache-control', 'no-store').send(view);
    },
  );

  app.put(
    '/api/v1/organizations/:slug/logo',
    {
      // base64 of the largest logo, plus the JSON around it
      bodyLimit: Math.ceil((LOGO_MAX_BYTES * 4) / 3) + 1024,
      schema: {
        tags: ['organizations'],
        summary: "Upload an organization's logo (owners and admins, with a recent sign-in; audited)",
        description: `PNG, JPEG or WebP, at most ${LOGO_MAX_BYTES / 1024} KB, as base64 in \`data\`; the first bytes must match \`contentType\`. SVG is refused (415): an SVG can carry scripts. Served from \`/brand/{slug}/logo?v=…\` with that exact content type and \`X-Content-Type-Options: nosniff\`, cached for a year (each upload changes \`v\`).`,
        params: SlugParams,
        body: Type.Object(
          {
            contentType: Type.Union([
              Type.Literal('image/png'),
              Type.Literal('image/jpeg'),
              Type.Literal('image/webp'),
              Type.Literal('image/svg+xml'),
            ]),
            // bounded by the route's bodyLimit; a logo just over the size gets the service's clear 413
            data: Type.String({ description: 'the image, base64' }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: BrandView }, [400, 401, 403, 404, 413, 415]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const body = req.body as { contentType: string; data: string };
      const view = await d.brandService.setLogo(slugOf(req), auth, body, contextOf(req));
      return reply.header('cache-control', 'no-store').send(view);
    },
  );

  app.delete(
    '/api/v1/organizations/:slug/logo',
    {
      schema: {
        tags: ['organizations'],
        summary: "Remove an organization's logo (owners and admins, with a recent sign-in; audited)",
        description: 'Pages and mails go back to the product name alone. 404 when the organization has no logo.',
        params: SlugParams,
        response: responses({ 200: Message }, [401, 403, 404]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      await d.brandService.removeLogo(slugOf(req), auth, contextOf(req));
      return reply.header('cache-control', 'no-store').send({ message: t('brand.saved.logo_removed') });
    },
  );

  app.get('/brand/:slug/logo', { schema: { hide: true } }, async (req, reply) => {
    const slug = (req.params as { slug: string }).slug;
    const logo = slug.length <= 40 ? await d.brandService.logo(slug) : undefined;
    if (!logo) throw new AppError('not_found');
    const v = (req.query as Record<string, unknown>)?.v;
    return reply
      .type(logo.type)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cross-origin-resource-policy', 'same-site')
      .header('cache-control', v === String(logo.version) ? LOGO_CACHE : 'public, max-age=300')
      .send(logo.bytes);
  });

  const theme = async (slug: string | undefined, reply: FastifyReply, personal = false) => {
    if (slug !== undefined && !(await d.organizations.bySlug(slug))) throw new AppError('not_found');
    return (
      reply
        .type('text/css; charset=utf-8')
        .header('x-content-type-options', 'nosniff')
        // a signed-in member's theme is their organization's: not for shared caches
        .header('cache-control', personal ? 'private, max-age=300' : 'public, max-age=300')
        .header('vary', 'cookie')
        .send(await d.brandService.themeCss(slug))
    );
  };
  // Pages outside /o/{slug}/ wear the default organization's brand (it is the install: its
  // unset fields are the configured ones), or, signed in, the member's organization's.
  app.get('/brand/theme.css', { schema: { hide: true } }, async (req, reply) => {
    const auth = await authOf(d, req);
    if (!auth) return theme(DEFAULT_ORG_SLUG, reply);
    return theme((await d.organizations.ofAccount(auth.account)).slug, reply, true);
  });
  app.get('/o/:slug/brand/theme.css', { schema: { hide: true } }, async (req, reply) =>
    theme((req.params as { slug: string }).slug, reply),
  );
}
