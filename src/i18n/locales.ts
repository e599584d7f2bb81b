// The languages Latchkey ships and how a request's Accept-Language picks one of them.

/** Every language with complete catalogs, in the order the picker lists them. */
export const SHIPPED_LOCALES = ['en', 'de', 'fr', 'es', 'pt-BR', 'ar'] as const;
export type Locale = (typeof SHIPPED_LOCALES)[number];

/** Each language's own name for itself: what a person looks for in a picker. */
export const LANGUAGE_NAMES: Record<Locale, string> = {
  en: 'English',
  de: 'Deutsch',
  fr: 'Français',
  es: 'Español',
  'pt-BR': 'Português (Brasil)',
  ar: 'العربية',
};

const RTL = new Set<string>(['ar']);

export function isRtl(locale: string): boolean {
  return RTL.has(locale);
}

export function isShipped(tag: string): tag is Locale {
  return (SHIPPED_LOCALES as readonly string[]).includes(tag);
}

/** The offered tag a language tag names, ignoring case; 'pt-PT' and 'pt' find 'pt-BR', 'de-AT' finds 'de'. */
export function matchLocale(tag: string, offered: readonly string[]): string | undefined {
  const want = tag.trim().toLowerCase();
  if (!want || want === '*') return undefined;
  const exact = offered.find((o) => o.toLowerCase() === want);
  if (exact) return exact;
  const base = want.split('-')[0];
  return offered.find((o) => o.toLowerCase() === base) ?? offered.find((o) => o.toLowerCase().split('-')[0] === base);
}

/**
 * The offered language an Accept-Language header prefers (RFC 9110 §12.5.4: by q, then order;
 * q=0 means "not this"), or undefined when it names none of them. Bounded: a header of hundreds
 * of entries costs no more than its first 20.
 */
export function negotiate(header: string | undefined, offered: readonly string[]): string | undefined {
  if (!header) return undefined;
  const ranges: { tag: string; q: number; i: number }[] = [];
  for (const [i, part] of header.split(',').slice(0, 20).entries()) {
    const [tag, ...params] = part.split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (tag && q > 0) ranges.push({ tag: tag.trim(), q, i });
  }
  ranges.sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    const found = matchLocale(r.tag, offered);
    if (found) return found;
  }
  return undefined;
}
