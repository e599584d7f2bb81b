import { currentLocale, formatDateTime, isRtl, t } from '../i18n/index.ts';

// Plain builders for transactional mail: every mail has the same bones (a title, a few lines, an
// optional button and code, a footer with the product and support contact), in HTML and text.
// Their words come from the catalogs in the language in force: a mail built while answering its
// recipient's own request speaks the request's language; others open the recipient's language
// first (`withLocale(account.locale, …)`).

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

export interface Branding {
  productName: string;
  supportContact: string;
  /** primary colour of the mail's button (checked for contrast where it is set) */
  primaryColor?: string;
  supportUrl?: string;
  supportEmail?: string;
  /** absolute URL of the organization's logo, shown above the title */
  logoUrl?: string;
  /** the SMS sender id to use instead of LATCHKEY_SMS_FROM (LATCHKEY_SMS_BRAND_SENDER) */
  smsSender?: string;
}

/**
 * A name as an alphanumeric SMS sender id: GSM letters and digits (and spaces) only, at most 11,
 * with at least one letter (an all-digit id would pass for a phone number); undefined otherwise.
 */
export function smsSenderId(name: string): string | undefined {
  const id = name
    .replace(/[^A-Za-z0-9 ]/g, '')
    .replace(/ +/g, ' ')
    .trim()
    .slice(0, 11)
    .trim();
  return /[A-Za-z]/.test(id) ? id : undefined;
}

/** LATCHKEY_SUPPORT_CONTACT's default, said in the reader's language rather than in English. */
export const DEFAULT_SUPPORT_CONTACT = 'your administrator';

/** Who to contact, by name: the configured contact, or "your administrator" in the reader's language. */
export function supportName(brand: Pick<Branding, 'supportContact'>): string {
  return brand.supportContact === DEFAULT_SUPPORT_CONTACT ? t('delivery.support_default') : brand.supportContact;
}

/** "your administrator (help@example.com, https://example.com/help)": every way to reach support. */
export function supportLine(brand: Branding): string {
  const extra = [brand.supportEmail, brand.supportUrl].filter(Boolean);
  return extra.length ? `${supportName(brand)} (${extra.join(', ')})` : supportName(brand);
}

export interface MailContent {
  subject: string;
  title: string;
  lines: string[];
  action?: { label: string; url: string };
  code?: { label: string; value: string };
  after?: string[];
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export function renderMail(brand: Branding, c: MailContent): RenderedMail {
  const footer = t('delivery.footer', { product: brand.productName, support: supportLine(brand) });
  const locale = currentLocale();
  const accent = escapeHtml(brand.primaryColor ?? '#1f5fbf');
  const logo = brand.logoUrl
    ? `<img src="${escapeHtml(brand.logoUrl)}" alt="${escapeHtml(brand.productName)}" style="max-height:48px;max-width:200px;display:block;margin-bottom:8px">`
    : '';
  const text = [
    c.title,
    '',
    ...c.lines,
    ...(c.action ? ['', `${c.action.label}: ${c.action.url}`] : []),
    ...(c.code ? ['', `${c.code.label}: ${c.code.value}`] : []),
    ...(c.after?.length ? ['', ...c.after] : []),
    '',
    '-- ',
    footer,
  ].join('\n');
  const p = (s: string) => `<p style="margin:0 0 12px">${escapeHtml(s)}</p>`;
  // A <head> with a viewport, so phone mail apps lay it out at their width (not 980 px).
  const html = `<!doctype html><html lang="${escapeHtml(locale)}" dir="${isRtl(locale) ? 'rtl' : 'ltr'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(c.subject)}</title></head>
<body style="font-family:system-ui,sans-serif;color:#1b1f23;background:#fff;max-width:560px;margin:auto;padding:16px;overflow-wrap:anywhere">
${logo}<h1 style="font-size:20px">${escapeHtml(c.title)}</h1>
${c.lines.map(p).join('\n')}
${
  c.action
    ? `<p style="margin:20px 0"><a href="${escapeHtml(c.action.url)}" style="background:${accent};color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none;display:inline-block">${escapeHtml(c.action.label)}</a></p>
<p style="font-size:13px;color:#555">${escapeHtml(t('delivery.button_fallback'))}<br><span style="word-break:break-all">${escapeHtml(c.action.url)}</span></p>`
    : ''
}
${c.code ? `<p>${escapeHtml(c.code.label)}:</p><p style="font-size:24px;font-weight:bold;letter-spacing:3px;font-family:monospace">${escapeHtml(c.code.value)}</p>` : ''}
${(c.after ?? []).map(p).join('\n')}
<hr style="border:none;border-top:1px solid #ddd"><p style="font-size:12px;color:#666">${escapeHtml(footer)}</p>
</body></html>`;
  return { subject: `${c.subject} – ${brand.productName}`, text, html };
}

/** Human time for mails, in the reader's language, always UTC so it reads the same wherever the server runs. */
export function formatTime(ms: number): string {
  return formatDateTime(ms);
}

/** "30 minutes", "2 hours", in the reader's language. */
export function formatDuration(ms: number): string {
  const min = Math.round(ms / 60000);
  if (min < 1) return t('delivery.duration_seconds', { count: Math.max(1, Math.round(ms / 1000)) });
  if (min < 120) return t('delivery.duration_minutes', { count: min });
  return t('delivery.duration_hours', { count: Math.round(min / 60) });
}
