import QRCode from 'qrcode';
import UAParser from 'ua-parser-js';
import { escapeHtml } from '../../delivery/templates.ts';
import { t } from '../../i18n/index.ts';
import { ipGroup } from '../../security/ip-group.ts';

// What the phone is shown about the browser asking (QR-04), and the QR image itself.

/** "Firefox 128 on Windows 10", from a user agent; never the raw string (it is attacker-chosen text). */
export function describeBrowser(userAgent: string | null): { browser: string; os: string } {
  const ua = new UAParser(userAgent ?? '').getResult();
  const join = (name?: string, version?: string) =>
    name ? `${name}${version ? ` ${version.split('.')[0]}` : ''}`.slice(0, 60) : undefined;
  return {
    browser: join(ua.browser.name, ua.browser.version) ?? t('qr.unknown_browser'),
    os: join(ua.os.name, ua.os.version) ?? t('qr.unknown_system'),
  };
}

/**
 * Whether two addresses are on different networks: IPv4 by /24, IPv6 by /64. A warning, not a
 * refusal: a laptop on Wi-Fi and a phone on mobile data differ honestly, but a QR relayed from an
 * attacker's screen (QRLJacking) almost always does.
 */
export function differentNetwork(a: string | null, b: string | null): boolean {
  if (!a || !b) return true;
  const net = (ip: string) => {
    const g = ipGroup(ip, 64);
    return g.includes('/') ? g : g.split('.').slice(0, 3).join('.');
  };
  return net(a) !== net(b);
}

/** The QR code of `url` as an SVG element (server-rendered; no script needed to show it). */
export async function qrSvg(url: string): Promise<string> {
  const svg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  // An accessible name for the image; the typed code beside it is the alternative.
  return svg.replace('<svg ', `<svg role="img" aria-label="${escapeHtml(t('qr.qr_label'))}" class="qr-image" `);
}
