import { siFacebook, siGithub, siGoogle, siX } from 'simple-icons';
import { Html } from '../../web/layout.tsx';

void Html;

/**
 * Provider marks for the sign-in buttons, inlined server-side (no request to a third party, CSP
 * img-src stays 'self'). Paths come from simple-icons; Microsoft's four squares, which
 * simple-icons no longer ships, are drawn here. Black marks (GitHub, X) follow the text colour,
 * as their brand rules allow a black or white mark, so they stay visible in dark mode.
 */
const MARKS: Record<string, { path?: string; fill?: string; svg?: string }> = {
  google: { path: siGoogle.path, fill: `#${siGoogle.hex}` },
  facebook: { path: siFacebook.path, fill: `#${siFacebook.hex}` },
  github: { path: siGithub.path, fill: 'currentColor' },
  x: { path: siX.path, fill: 'currentColor' },
  microsoft: {
    svg: '<rect x="1" y="1" width="10.5" height="10.5" fill="#F25022"/><rect x="12.5" y="1" width="10.5" height="10.5" fill="#7FBA00"/><rect x="1" y="12.5" width="10.5" height="10.5" fill="#00A4EF"/><rect x="12.5" y="12.5" width="10.5" height="10.5" fill="#FFB900"/>',
  },
};

/** The provider's mark, or undefined when we have none (then the button shows its letter badge). */
export function providerLogo(id: string): string | undefined {
  const m = Object.hasOwn(MARKS, id) ? MARKS[id] : undefined;
  if (!m) return undefined;
  // The paths and colours are constants of this file and the simple-icons package, never input.
  const inner = m.svg ?? `<path fill="${m.fill}" d="${m.path}"/>`;
  return `<svg class="provider-logo" viewBox="0 0 24 24" aria-hidden="true" focusable="false">${inner}</svg>`;
}
