import QRCode from 'qrcode';
import { escapeHtml } from '../../delivery/templates.ts';
import { t } from '../../i18n/index.ts';

/** The otpauth URI as an inline SVG QR code, rendered on the server (no script, no third party). */
export async function qrSvg(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
  // An image to assistive technology, with the text alternative the page shows next to it.
  return svg.replace(
    '<svg ',
    `<svg role="img" aria-label="${escapeHtml(t('totp.qr_label'))}" width="200" height="200" `,
  );
}
