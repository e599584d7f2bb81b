import { normalizeEmail } from '../../security/identifiers.ts';
import { DEFAULT_ORG_SLUG } from '../../store/organizations.ts';

// What every page's frame takes from a brand (issue 17, "Their brand"): the favicon (the
// organization's logo, else the product's) and the "Help" link in the header (the support page,
// else a mail to the support address, else /support). The layout renders synchronously, so each
// process keeps what the organizations set in memory: read when the app is ready, again after a
// brand change here, and in the background when older than PAGE_BRAND_TTL_MS (a change made by
// another process shows within that time).

/** How long a process trusts what it read before reading it again (as the organizations' languages). */
export const PAGE_BRAND_TTL_MS = 30_000;

/** What an organization set that the page frame uses (null: not set). */
export interface PageBrandRow {
  slug: string;
  supportUrl: string | null;
  supportContact: string | null;
  logoType: string | null;
  logoVersion: number | null;
}

/** The install's own support settings (LATCHKEY_SUPPORT_URL, _EMAIL, _CONTACT). */
export interface InstallSupport {
  supportUrl?: string;
  supportEmail?: string;
  supportContact?: string;
}

export interface PageBrand {
  /** the favicon's URL and, for an organization's logo, its exact type */
  favicon: { href: string; type: string };
  /** where "Help" leads: an http(s) page, a mailto: address or /support */
  help: string;
}

const FAVICON: PageBrand['favicon'] = { href: '/static/favicon.svg', type: 'image/svg+xml' };

let install: InstallSupport = {};
let rows = new Map<string, PageBrandRow>();
/** what pageBrand worked out per slug, until the next read */
let worked = new Map<string, PageBrand>();
let source: { load: () => Promise<PageBrandRow[]>; now: () => number } | undefined;
let readAt = Number.NEGATIVE_INFINITY;
let reading: Promise<void> | undefined;

/** Where the page frame reads the brands from (the brand service sets it when it is built). */
export function configurePageBrand(o: {
  install: InstallSupport;
  load: () => Promise<PageBrandRow[]>;
  now: () => number;
}): void {
  install = o.install;
  source = { load: o.load, now: o.now };
  rows = new Map();
  worked = new Map();
  readAt = Number.NEGATIVE_INFINITY;
  reading = undefined;
}

/** Reads the organizations' settings now (at start and after a change); a failed read keeps the last. */
export function refreshPageBrand(): Promise<void> {
  const s = source;
  if (!s) return Promise.resolve();
  const started = s.now();
  const run = s
    .load()
    .then((list) => {
      if (source !== s) return;
      rows = new Map(list.map((r) => [r.slug, r]));
      worked = new Map();
      readAt = started;
    })
    .catch(() => {
      // keep what was read before; the next page asks again after the TTL
      if (source === s) readAt = started;
    })
    .finally(() => {
      if (reading === run) reading = undefined;
    });
  reading = run;
  return run;
}

const HTTP = /^https?:\/\//i;

function mailto(address: string | null | undefined): string | undefined {
  const email = address ? normalizeEmail(address) : undefined;
  return email ? `mailto:${email.split('@').map(encodeURIComponent).join('@')}` : undefined;
}

function web(url: string | null | undefined): string | undefined {
  return url && HTTP.test(url) && URL.canParse(url) ? url : undefined;
}

/**
 * The favicon and help link of a page shown under `prefix` (`/o/{slug}`, or '' for the install's
 * own pages, which wear the default organization's brand). The organization's own settings first,
 * then the install's: its support page, its support address, a contact that is an address.
 */
export function pageBrand(prefix: string | undefined): PageBrand {
  if (source && !reading && source.now() - readAt > PAGE_BRAND_TTL_MS) void refreshPageBrand();
  const slug = prefix ? /^\/o\/([a-z0-9-]{1,40})$/.exec(prefix)?.[1] : DEFAULT_ORG_SLUG;
  const key = slug ?? '';
  const known = worked.get(key);
  if (known) return known;
  const row = slug ? rows.get(slug) : undefined;
  const help =
    web(row?.supportUrl) ??
    mailto(row?.supportContact) ??
    web(install.supportUrl) ??
    mailto(install.supportEmail) ??
    mailto(install.supportContact) ??
    '/support';
  const favicon =
    row?.logoType && slug ? { href: `/brand/${slug}/logo?v=${row.logoVersion ?? 0}`, type: row.logoType } : FAVICON;
  const brand = { favicon, help };
  // one entry per organization that has pages; bounded like the organizations' languages
  if (worked.size > 1000) worked.clear();
  worked.set(key, brand);
  return brand;
}
