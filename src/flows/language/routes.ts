import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kernel } from '../../kernel.ts';
import { clearCookie, setCookie } from '../../web/cookies.ts';
import { applyAccountLocale, LANGUAGE_COOKIE } from '../../web/locale.ts';
import { returnPath } from '../../web/reauth.ts';
import { authOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { responses, Str } from '../../web/schemas.ts';
import { languageChoice, offeredLanguage, saveAccountLanguage } from './service.ts';

export type LanguageDeps = Pick<Kernel, 'db' | 'clock'> & RequestDeps;

const YEAR_S = 365 * 24 * 3600;

const cookieOptions = (d: LanguageDeps) => ({
  path: '/',
  httpOnly: true,
  secure: d.config.https,
  sameSite: 'lax' as const,
  maxAge: YEAR_S,
});

/** The browser's choice; null forgets it, so Accept-Language decides again. */
function rememberOnBrowser(d: LanguageDeps, reply: FastifyReply, locale: string | null): void {
  // Not a secret and not httpOnly-worthy, but nothing on the page reads it either.
  if (locale) setCookie(reply, LANGUAGE_COOKIE, locale, cookieOptions(d));
  else clearCookie(reply, LANGUAGE_COOKIE, cookieOptions(d));
}

/** The picker at the foot of every page, and the account's language in the API. */
export function registerLanguageRoutes(app: FastifyInstance, d: LanguageDeps): void {
  app.post(
    '/language',
    {
      schema: {
        hide: true,
        body: Type.Object({ language: Str(35), back: Type.Optional(Str(600)) }),
      },
    },
    async (req, reply) => {
      const body = req.body as { language: string; back?: string };
      // `auto` ("Same as my browser" on /settings): no saved language, on the account or here.
      const locale = languageChoice(body.language);
      rememberOnBrowser(d, reply, locale);
      const auth = await authOf(d, req);
      if (auth) await saveAccountLanguage(d.db, auth.account.id, locale, d.clock.now());
      applyAccountLocale(locale);
      return reply.redirect(returnPath(d, body.back) ?? '/login', 303);
    },
  );

  app.put(
    '/api/v1/account/language',
    {
      schema: {
        tags: ['account'],
        summary: "Set the account's language for its pages and mails (null: follow the browser)",
        description:
          "One of LATCHKEY_LOCALES (`en`, `de`, `fr`, `es`, `pt-BR`, `ar` by default). Pages and mails then use it on every browser; without one, the browser's Accept-Language decides, then the organization's default, then LATCHKEY_DEFAULT_LOCALE. `GET /sessions/current` shows it as `language`.",
        body: Type.Object(
          { language: Type.Union([Str(35, { examples: ['de'] }), Type.Null()]) },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ language: Type.Union([Type.String(), Type.Null()]) }) }, [400, 401]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const raw = (req.body as { language: string | null }).language;
      const locale = raw === null ? null : offeredLanguage(raw);
      await saveAccountLanguage(d.db, auth.account.id, locale, d.clock.now());
      rememberOnBrowser(d, reply, locale);
      return reply.header('cache-control', 'no-store').send({ language: locale });
    },
  );
}
