import { UAParser } from 'ua-parser-js';
import { t } from '../i18n/index.ts';
import { Html } from './layout.tsx';

void Html;

/**
 * The raw User-Agent for a tooltip: attribute values are only quote-escaped, so the angle
 * brackets a hostile client may send are dropped (no markup-looking text reaches the page).
 */
export function userAgentTitle(userAgent: string | null | undefined): string | undefined {
  return userAgent ? userAgent.slice(0, 512).replace(/[<>]/g, '') : undefined;
}

/**
 * "Firefox on Windows", "Safari on iOS (phone)": what a person recognises in a sessions list or
 * the activity, instead of a raw User-Agent string. The raw string stays available as a title.
 */
export function deviceName(userAgent: string | null | undefined): string {
  if (!userAgent) return t('web.page.device_unknown');
  const r = new UAParser(userAgent.slice(0, 512)).getResult();
  const browser = r.browser.name ?? '';
  const os = r.os.name ?? '';
  // Product names stay as they are; only the words around them are the reader's language.
  const kind = r.device.type === 'mobile' ? 'phone' : r.device.type === 'tablet' ? 'tablet' : 'other';
  if (browser && os) return t('web.page.device_browser_on_os', { browser, os, kind });
  if (browser || os) return t('web.page.device_named', { name: browser || os, kind });
  // Not a browser (curl, an app's HTTP client): its own first word is the best name there is.
  return userAgent.split(/[\s/;(]/)[0]?.slice(0, 40) || t('web.page.device_unknown');
}

/**
 * A time the page shows in UTC (correct without JavaScript); app.js rewrites it into the
 * reader's own zone and format.
 */
export function LocalTime(p: { ms: number }): JSX.Element {
  const iso = new Date(p.ms).toISOString();
  return (
    <time datetime={iso} data-local="" safe>
      {`${iso.slice(0, 16).replace('T', ' ')} UTC`}
    </time>
  );
}
