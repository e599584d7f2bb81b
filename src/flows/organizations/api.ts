import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.ts';
import { defaultLocale, offeredLocales } from '../../i18n/scope.ts';
import { t } from '../../i18n/translate.ts';
import { contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { Captcha, Message, Password, responses, SESSION, Str } from '../../web/schemas.ts';
import type { RecoveryMethods } from '../recovery/method.ts';
import type { RegistrationService } from '../registration/service.ts';
import type { OrganizationService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type OrganizationsApiDeps = {
  registration: RegistrationService;
  recoveryMethods: RecoveryMethods;
  organizations: OrganizationService;
} & RequestDeps;

/** The settings' schema, from the registered methods: their ids, and each one's numbers and bounds. */
function settingsSchema(methods: RecoveryMethods) {
  const ids = methods.ids();
  return Type.Object({
    methods: Type.Array(Type.Union(ids.map((m) => Type.Literal(m))), { minItems: 1, maxItems: ids.length }),
    ...Object.fromEntries(
      methods.settings().map(([k, b]) => [k, Type.Integer({ minimum: b.min, maximum: b.max, description: b.label })]),
    ),
  });
}

const SlugParams = Type.Object({ slug: Type.String({ maxLength: 40 }) });

export function registerOrganizationsApi(app: FastifyInstance, d: OrganizationsApiDeps): void {
  const Settings = settingsSchema(d.recoveryMethods);
  app.post(
    '/api/v1/organizations/:slug/registrations',
    {
      schema: {
        tags: ['registration'],
        summary: 'Register into an organization (same rules and answer as POST /registrations)',
        description:
          "Registration in an organization's context: the new account belongs to the organization and its mails carry the organization's name. Same answers as `POST /registrations`.",
        params: SlugParams,
        body: Type.Object({
          username: Str(64, { minLength: 1 }),
          email: Str(320, { minLength: 1 }),
          password: Password,
          captcha: Captcha,
        }),
        response: responses({ 202: Message }, [400, 404, 409, 413, 429]),
      },
    },
    async (req, reply) => {
      const org = await d.organizations.bySlug((req.params as { slug: string }).slug);
      if (!org) throw new AppError('not_found', t('organizations.no_such_org'));
      const body = req.body as { username: string; email: string; password: string; captcha?: string };
      return reply.status(202).send(await d.registration.register({ ...body, orgId: org.id }, contextOf(req)));
    },
  );

  app.get(
    '/api/v1/organizations/:slug/recovery-settings',
    {
      schema: {
        security: SESSION,
        tags: ['organizations'],
        summary: "An organization's recovery settings (owners and admins only)",
        description:
          "The organization's recovery settings (enabled methods and their bounds). Only the organization's admins may read them.",
        params: SlugParams,
        response: responses({ 200: Settings }, [401, 403, 404]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const org = await d.organizations.requireAdmin(
        (req.params as { slug: string }).slug,
        auth.account,
        contextOf(req),
        'organization.read',
      );
      return reply.header('cache-control', 'no-store').send(org.recovery);
    },
  );

  app.put(
    '/api/v1/organizations/:slug/recovery-settings',
    {
      schema: {
        security: SESSION,
        tags: ['organizations'],
        summary:
          "Change an organization's recovery methods and limits (owners and admins only, with a recent sign-in; audited)",
        description:
          'Fields left out keep their value; an unknown field is a 400 naming it. Lifetimes are seconds: email links at most 24 h, email and SMS codes at most 10 min (OTP-02). Members and outsiders get 403, audited (ADM-05). An admin whose sign-in is older than LATCHKEY_REAUTH_WINDOW gets 401 `reauthentication_required` and must sign in again (SES-07).',
        params: SlugParams,
        body: Type.Partial(Settings, { additionalProperties: false }),
        response: responses({ 200: Settings }, [400, 401, 403, 404, 413]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const next = await d.organizations.updateRecoverySettings(
        (req.params as { slug: string }).slug,
        auth,
        req.body,
        contextOf(req),
      );
      return reply.header('cache-control', 'no-store').send(next);
    },
  );

  const requireSecondFactor = Type.Boolean({
    description: 'members need a second factor; one without is led to enrol right after the password (MFA-08)',
  });
  const languageNote = `The language of the organization's pages (\`/o/{slug}/…\`) for a person whose account chose none, who picked none on this browser and whose browser's Accept-Language names none of the offered languages (LATCHKEY_LOCALES: ${offeredLocales().join(', ')}). \`null\`: the install's default (LATCHKEY_DEFAULT_LOCALE, here \`${defaultLocale()}\`). Each server process notices a change within 30 seconds.`;
  const Security = Type.Object({
    requireSecondFactor,
    defaultLanguage: Type.Union([Type.Union(offeredLocales().map((l) => Type.Literal(l))), Type.Null()], {
      description: languageNote,
    }),
  });
  // Any string passes the schema, so that a language not offered gets the answer naming those that are.
  const SecurityChange = Type.Object(
    {
      requireSecondFactor: Type.Optional(requireSecondFactor),
      defaultLanguage: Type.Optional(
        Type.Union([Str(35), Type.Null()], {
          description: `${languageNote} A language not offered is a 400 naming those that are; \`null\` clears it.`,
          examples: ['de'],
        }),
      ),
    },
    { additionalProperties: false },
  );

  app.get(
    '/api/v1/organizations/:slug/security-settings',
    {
      schema: {
        tags: ['organizations'],
        summary: "An organization's sign-in rules and default language (owners and admins only)",
        description:
          "Whether members must have a second factor (MFA-08), and the organization's default language (issue 17).",
        params: SlugParams,
        response: responses({ 200: Security }, [401, 403, 404]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const org = await d.organizations.requireAdmin(
        (req.params as { slug: string }).slug,
        auth.account,
        contextOf(req),
        'organization.read',
      );
      return reply.header('cache-control', 'no-store').send(org.security);
    },
  );

  app.put(
    '/api/v1/organizations/:slug/security-settings',
    {
      schema: {
        tags: ['organizations'],
        summary:
          "Change an organization's sign-in rules or default language (owners and admins only, with a recent sign-in; audited)",
        description:
          "`requireSecondFactor: true`: a member without a second factor gets no session after the password but is led to set up an authenticator app first; a member cannot remove their last factor (MFA-08). `defaultLanguage`: the language of the organization's pages when nothing the person chose or their browser asks for decides (`null` clears it). Fields left out keep their value. Same gate as recovery-settings: 403 for others (audited), 401 `reauthentication_required` for a stale sign-in (SES-07).",
        params: SlugParams,
        body: SecurityChange,
        response: responses({ 200: Security }, [400, 401, 403, 404, 413]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const next = await d.organizations.updateSecuritySettings(
        (req.params as { slug: string }).slug,
        auth,
        req.body,
        contextOf(req),
      );
      return reply.header('cache-control', 'no-store').send(next);
    },
  );
}
