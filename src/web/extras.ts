import type { Authenticated } from './auth.ts';

// Places where features add to shared pages without editing them: each entry renders a piece of
// HTML (already escaped). The composition root (src/deps.ts) lists them, bound to its container;
// order there is the order on the page.

/** Below the sign-in form (e.g. external account buttons); `next` is where sign-in returns to. */
export type LoginExtra = (next?: string) => Promise<string> | string;

/** A section of /settings after profile and password (e.g. recovery methods, linked accounts, activity). */
export type SettingsSection = (auth: Authenticated, flash: string | undefined) => Promise<string> | string;

/** A form on an organization's admin page, after its recovery settings (e.g. the QR sign-in switch). */
export type OrgSettingsSection = (org: { id: string; slug: string }) => Promise<string> | string;
/**
 * On the reset link's page, other ways to recover than a new password (e.g. a new passkey for an
 * account that has no password): HTML for the link's `token`, or '' when it does not apply.
 */
export type ResetChoice = (token: string) => Promise<string> | string;

export interface PageExtras {
  loginExtras: readonly LoginExtra[];
  settingsSections: readonly SettingsSection[];
  orgSettingsSections?: readonly OrgSettingsSection[];
  resetChoices: readonly ResetChoice[];
}
