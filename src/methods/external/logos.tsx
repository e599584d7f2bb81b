import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Html } from '../../web/layout.tsx';

void Html;

/**
 * Provider marks for the sign-in buttons, inlined server-side (no request to a third party, CSP
 * img-src stays 'self'). Paths come from simple-icons' own SVG files, read the first time a mark
 * is drawn: the package's index holds every one of its 3,000 icons and took 185 ms to import in
 * every process. Colours are simple-icons' (test/web/issue17.test.ts compares them). Microsoft's
 * four squares, which simple-icons no longer ships, are drawn here. Black marks (GitHub, X)
 * follow the text colour, as their brand rules allow a black or white mark, so they stay
 * visible in dark mode.
 */
const MARKS: Record<string, { icon?: string; fill?: string; svg?: string }> = {
  google: { icon: 'google', fill: '#4285F4' },
  facebook: { icon: 'facebook', fill: '#0866FF' },
  github: { icon: 'github', fill: 'currentColor' },
  x: { icon: 'x', fill: 'currentColor' },
  microsoft: {
    svg: '<rect x="1" y="1" width="10.5" height="10.5" fill="#F25022"/><rect x="12.5" y="1" width="10.5" height="10.5" fill="#7FBA00"/><rect x="1" y="12.5" width="10.5" height="10.5" fill="#00A4EF"/><rect x="12.5" y="12.5" width="10.5" height="10.5" fill="#FFB900"/>',
  },
};

const paths = new Map<string, string>();
const require = createRequire(import.meta.url);

/** The path of a simple-icons icon, from its SVG file (read once). */
function iconPath(icon: string): string {
  let d = paths.get(icon);
  if (d === undefined) {
    const svg = readFileSync(require.resolve(`simple-icons/icons/${icon}.svg`), 'utf8');
    d = /<path d="([^"]+)"/.exec(svg)?.[1] ?? '';
    paths.set(icon, d);
  }
  return d;
}

/** The provider's mark, or undefined when we have none (then the button shows its letter badge). */
export function providerLogo(id: string): string | undefined {
  const m = Object.hasOwn(MARKS, id) ? MARKS[id] : undefined;
  if (!m) return undefined;
  // The paths and colours are constants of this file and the simple-icons package, never input.
  const inner = m.svg ?? `<path fill="${m.fill}" d="${iconPath(m.icon as string)}"/>`;
  return `<svg class="provider-logo" viewBox="0 0 24 24" aria-hidden="true" focusable="false">${inner}</svg>`;
}
