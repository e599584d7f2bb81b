import { AppError } from '../errors.ts';
import { t } from '../i18n/index.ts';
import type { Kernel } from '../kernel.ts';

/** What this module uses of the container the composition root builds. */
export type ReturnUrlDeps = Pick<Kernel, 'config'>;

/**
 * EXT-07: where a sign-in may send the browser afterwards. A path on this service, or an absolute
 * URL whose origin is the public URL's or on LATCHKEY_RETURN_URL_ALLOWLIST; anything else is
 * refused (not silently dropped), so a crafted link fails visibly. The URL is re-serialised after
 * parsing, so tricks like `//evil`, `/\evil` or embedded tabs cannot change its meaning later.
 */
export function safeReturnTo(d: ReturnUrlDeps, raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const bad = () => new AppError('validation_failed', t('web.page.return_address_refused'));
  if (typeof raw !== 'string' || raw.length > 2048 || /[\p{Cc}\\]/u.test(raw)) throw bad();
  const origin = d.config.publicOrigin;
  let u: URL;
  try {
    u = new URL(raw, `${origin}/`);
  } catch {
    throw bad();
  }
  if (u.username || u.password) throw bad();
  if (u.origin === origin) return raw.startsWith('/') ? `${u.pathname}${u.search}${u.hash}` : u.href;
  if (d.config.external.returnOrigins.includes(u.origin) && /^https?:$/.test(u.protocol)) return u.href;
  throw bad();
}

/**
 * Where /login sends the browser once signed in (`return_to` or `next`): a path on this service
 * (an OpenID Provider interaction such as /oidc/interaction/{uid} among them) or an allow-listed
 * origin (an app behind forward-auth), as safeReturnTo decides; anything else is dropped, and
 * the browser goes to the default page.
 */
export function signInReturnTo(d: ReturnUrlDeps, raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw.length > 2048) return undefined;
  try {
    const to = safeReturnTo(d, raw);
    return to?.startsWith('//') ? undefined : to;
  } catch {
    return undefined;
  }
}

/**
 * `?return_to=` of a page (/login, /register, /activate): the checked address, or, for one that
 * is refused, the message the page shows instead of silently dropping it.
 */
export function pageReturnTo(d: ReturnUrlDeps, raw: unknown): { returnTo?: string; error?: string } {
  try {
    return { returnTo: safeReturnTo(d, typeof raw === 'string' ? raw : undefined) };
  } catch (err) {
    if (err instanceof AppError) return { error: err.message };
    throw err;
  }
}

/** `path` with `return_to` added, for links and forms that carry it to the next page. */
export function withReturnTo(path: string, returnTo: string | undefined): string {
  if (!returnTo) return path;
  return `${path}${path.includes('?') ? '&' : '?'}return_to=${encodeURIComponent(returnTo)}`;
}
