import type { Authenticated } from './auth.ts';

// Places where features add to shared pages without editing them: each entry renders a piece of
// HTML (already escaped). The composition root (src/deps.ts) lists them, bound to its container;
// order there is the order on the page.

/** Below the sign-in form (e.g. external account buttons); `next` is where sign-in returns to. */
export type LoginExtra = (next?: string) => Promise<string> | string;

/** A section of /settings after profile and password (e.g. recovery methods, linked accounts, activity). */
export type SettingsSection = (auth: Authenticated, flash: string | undefined) => Promise<string> | string;

export interface PageExtras {
  loginExtras: readonly LoginExtra[];
  settingsSections: readonly SettingsSection[];
}
