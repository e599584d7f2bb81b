import type { Kernel } from '../../kernel.ts';
import { AppError } from '../../errors.ts';

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
  const bad = () => new AppError('validation_failed', 'This return address is not allowed.');
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
  if (allowedOrigins(d).has(u.origin) && /^https?:$/.test(u.protocol)) return u.href;
  throw bad();
}

const cache = new WeakMap<ReturnUrlDeps, Set<string>>();

function allowedOrigins(d: ReturnUrlDeps): Set<string> {
  let set = cache.get(d);
  if (!set) {
    set = new Set(((d.config.raw.LATCHKEY_RETURN_URL_ALLOWLIST as string[] | undefined) ?? []).map(originOf));
    cache.set(d, set);
  }
  return set;
}

/** Allow-list entries are origins; a malformed one matches nothing (checked at start by the service). */
export function originOf(entry: string): string {
  try {
    return new URL(entry).origin;
  } catch {
    return `invalid:${entry}`;
  }
}
