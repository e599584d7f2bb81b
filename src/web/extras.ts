import type { Authenticated } from './auth.ts';

// Places where features add to shared pages without editing them: each entry renders a piece of
// HTML (already escaped). The composition root (src/deps.ts) lists them, bound to its container;
// order there is the order on the page.

/** Below the sign-in form (e.g. external account buttons); `returnTo` is where sign-in leads afterwards. */
export type LoginExtra = (o: { returnTo?: string }) => Promise<string> | string;

/**
 * A section of /settings after profile and password (e.g. recovery methods, linked accounts,
 * activity). `error` is a refusal of one section's form: the section whose id it names shows it
 * beside that form (the page is then opened at `#id`), so feedback is never off-screen.
 */
export type SettingsSection = (
  auth: Authenticated,
  flash: string | undefined,
  error?: SectionError,
) => Promise<string> | string;

export interface SectionError {
  section: string;
  text: string;
}

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
