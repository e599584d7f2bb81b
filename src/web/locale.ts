import type { FastifyRequest } from 'fastify';
import { isShipped, matchLocale, negotiate } from '../i18n/locales.ts';
import { currentScope, defaultLocale, type LocaleScope, offeredLocales } from '../i18n/scope.ts';
import type { Kernel } from '../kernel.ts';
import { readCookie } from './cookies.ts';
import { slugOfPath } from './org-context.ts';

// A request's language (issue 17): the account's saved choice (applied once the session is read,
// see authOf), else the language picked on this browser (cookie), else Accept-Language, else the
// organization's default (pages under /o/{slug}/), else LATCHKEY_DEFAULT_LOCALE.

export const LANGUAGE_COOKIE = 'latchkey_lang';

declare module 'fastify' {
  interface FastifyRequest {
    localeScope?: LocaleScope;
  }
}

/** An organization's default language changes rarely; each process keeps it this long. */
const ORG_LOCALE_TTL_MS = 30_000;

export type LocaleDeps = Pick<Kernel, 'db' | 'clock'>;

/** Picks the language of each request, reading an organization's default only when it decides. */
export function requestLocale(d: LocaleDeps): (req: FastifyRequest) => LocaleScope | Promise<LocaleScope> {
  const orgDefaults = new Map<string, { locale: string | null; at: number }>();
  const orgDefault = async (slug: string): Promise<string | null> => {
    const now = d.clock.now();
    const hit = orgDefaults.get(slug);
    if (hit && now - hit.at < ORG_LOCALE_TTL_MS) return hit.locale;
    const row = await d.db
      .selectFrom('organizations')
      .select('default_locale')
      .where('slug', '=', slug)
      .executeTakeFirst();
    if (orgDefaults.size > 1000) orgDefaults.clear();
    orgDefaults.set(slug, { locale: row?.default_locale ?? null, at: now });
    return row?.default_locale ?? null;
  };
  return (req) => {
    const offered = offeredLocales();
    const picked = readCookie(req, LANGUAGE_COOKIE);
    const chosen =
      (picked && offered.includes(picked) ? picked : undefined) ??
      negotiate(req.headers['accept-language'] as string | undefined, offered);
    if (chosen) return { locale: chosen, path: req.url };
    const slug = slugOfPath(req.url);
    if (!slug) return { locale: defaultLocale(), path: req.url };
    return orgDefault(slug).then(
      (locale) => ({ locale: locale && offered.includes(locale) ? locale : defaultLocale(), path: req.url }),
      () => ({ locale: defaultLocale(), path: req.url }),
    );
  };
}

/** The account's own choice wins over the browser's, from the moment the session is known. */
export function applyAccountLocale(locale: string | null | undefined): void {
  if (!locale) return;
  const scope = currentScope();
  const found = matchLocale(locale, offeredLocales());
  if (scope && found && isShipped(found)) scope.locale = found;
}
