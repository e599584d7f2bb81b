import type { Deps } from '../deps.ts';
import type { Authenticated } from './auth.ts';

// Places where features add to shared pages without editing them: each entry renders a piece of
// HTML (already escaped). Order here is the order on the page.

/** Below the sign-in form (e.g. external account buttons). */
export const loginExtras: ((d: Deps) => Promise<string> | string)[] = [];

/** Sections of /settings after profile and password (e.g. recovery methods, linked accounts, activity). */
export const settingsSections: ((d: Deps, auth: Authenticated, flash: string | undefined) => Promise<string> | string)[] = [];
