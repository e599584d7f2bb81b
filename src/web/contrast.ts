// WCAG 2.x contrast (https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio) for brand colours: a
// primary colour is used as button background under text and as link text, so it must reach
// 4.5:1 (SC 1.4.3) against what it sits on, in light and in dark mode.

const HEX = /^#([0-9a-f]{6}|[0-9a-f]{3})$/i;

/** `#rgb` or `#rrggbb`, lower-cased to `#rrggbb`; undefined for anything else. */
export function parseHexColor(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const m = HEX.exec(input.trim());
  if (!m) return undefined;
  const h = m[1].toLowerCase();
  return `#${h.length === 3 ? [...h].map((c) => c + c).join('') : h}`;
}

function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** The contrast ratio of two `#rrggbb` colours, 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

export const MIN_CONTRAST = 4.5;
/** What a light-mode primary sits on and carries: white cards and white button text. */
export const LIGHT_SURFACES = ['#ffffff'];
/** What a dark-mode primary sits on and carries: the dark page, cards and button text. */
export const DARK_SURFACES = ['#0d1117', '#161b22'];

/**
 * Why a brand colour cannot be used, or undefined when it can: not a hex colour, or below 4.5:1
 * against one of the surfaces of its scheme.
 */
export function colorProblem(input: unknown, scheme: 'light' | 'dark'): string | undefined {
  const hex = parseHexColor(input);
  if (!hex) return 'must be a colour like #1f5fbf';
  const surfaces = scheme === 'light' ? LIGHT_SURFACES : DARK_SURFACES;
  const worst = Math.min(...surfaces.map((s) => contrastRatio(hex, s)));
  if (worst < MIN_CONTRAST)
    return `${hex} has a contrast of ${worst.toFixed(2)}:1 against the ${scheme}-mode ${scheme === 'light' ? 'white' : 'dark'} background; WCAG asks for at least ${MIN_CONTRAST}:1 (pick a ${scheme === 'light' ? 'darker' : 'lighter'} shade)`;
  return undefined;
}
