import { UAParser } from 'ua-parser-js';
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
  if (!userAgent) return 'Unknown browser';
  const r = new UAParser(userAgent.slice(0, 512)).getResult();
  const browser = r.browser.name ?? '';
  const os = r.os.name ?? '';
  const kind = r.device.type === 'mobile' ? ' (phone)' : r.device.type === 'tablet' ? ' (tablet)' : '';
  if (browser && os) return `${browser} on ${os}${kind}`;
  if (browser || os) return `${browser || os}${kind}`;
  // Not a browser (curl, an app's HTTP client): its own first word is the best name there is.
  return userAgent.split(/[\s/;(]/)[0]?.slice(0, 40) || 'Unknown browser';
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
