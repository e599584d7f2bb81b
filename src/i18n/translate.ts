import { IntlMessageFormat } from 'intl-messageformat';
import { loadCatalogs } from './catalog.ts';
import { currentLocale } from './scope.ts';

// t() for text (attributes, titles, mails, SMS, JSON) and th() for a page's children: th escapes
// every value it is given and may wrap parts of the sentence in markup through tag arguments
// (`"Read <link>the guide</link>"` with `{ link: (s) => `<a href=…>${s}</a>` }`). th returns
// JSX.Element, which an attribute does not accept, so the type checker keeps the two apart.

type Value = string | number | Date | boolean | null | undefined;
export type Values = Record<string, Value>;
export type HtmlValues = Record<string, Value | ((chunks: string) => string)>;

const catalogs = loadCatalogs();
const english = catalogs.get('en') as ReadonlyMap<string, string>;
const compiled = new Map<string, IntlMessageFormat>();

function formatter(locale: string, key: string): IntlMessageFormat | undefined {
  const id = `${locale}\u0000${key}`;
  let f = compiled.get(id);
  if (f) return f;
  const pattern = catalogs.get(locale)?.get(key) ?? english.get(key);
  if (pattern === undefined) return undefined;
  f = new IntlMessageFormat(pattern, locale, undefined, { ignoreTag: false });
  compiled.set(id, f);
  return f;
}

function join(out: unknown): string {
  return Array.isArray(out) ? out.join('') : String(out);
}

/** The message `key` in the current language, as plain text. A key no catalog has comes back as itself. */
export function t(key: string, values?: Values): string {
  const f = formatter(currentLocale(), key);
  if (!f) return key;
  return join(f.format(values as Record<string, string>));
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeText = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

/** The message `key` as HTML for a page's children: values escaped, tags from the given functions. */
export function th(key: string, values?: HtmlValues): JSX.Element {
  const f = formatter(currentLocale(), key);
  if (!f) return escapeText(key);
  const safe: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(values ?? {})) {
    safe[name] =
      typeof v === 'function'
        ? (chunks: unknown[]) => v(chunks.map(String).join(''))
        : typeof v === 'string'
          ? escapeText(v)
          : v;
  }
  return join(f.format(safe as Record<string, string>));
}

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** A point in time in the current language, written out for a mail or a server-rendered page (UTC). */
export function formatDateTime(ms: number): string {
  const locale = currentLocale();
  let f = dateTimeFormats.get(locale);
  if (!f) {
    // dateStyle cannot be combined with timeZoneName; the fields say the same with the zone shown.
    f = new Intl.DateTimeFormat(locale, {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      timeZone: 'UTC',
      timeZoneName: 'short',
    });
    dateTimeFormats.set(locale, f);
  }
  return f.format(ms);
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(currentLocale()).format(n);
}

const clientJson = new Map<string, string>();

/**
 * The words the page's scripts use (every key with `.client.` after its namespace), as a JSON
 * object safe inside a `<script type="application/json">` block. Scripts fill `{name}` themselves.
 */
export function clientTextJson(): string {
  const locale = currentLocale();
  let json = clientJson.get(locale);
  if (json === undefined) {
    const out: Record<string, string> = {};
    for (const [key, value] of english)
      if (/^[a-z0-9-]+\.client\./.test(key)) out[key] = catalogs.get(locale)?.get(key) ?? value;
    json = JSON.stringify(out).replace(/</g, '\\u003c');
    clientJson.set(locale, json);
  }
  return json;
}
