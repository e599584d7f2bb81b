import { foldCase, validUsername } from '../../security/identifiers.ts';
import { DIGITS, newCode, type Random } from '../../security/random.ts';
import type { ExternalProfile } from './providers.ts';

/**
 * Username candidates for an account created from an external profile, best first. Hints are
 * the provider's login, the display name and the email's local part, cleaned to the username
 * alphabet; the best hint comes first, then numbered (a GitHub "octocat" becomes "octocat-2"
 * rather than another name), then the other hints, then random variants so one is always free.
 * The user can change it on the welcome step.
 */
export function deriveUsernames(profile: ExternalProfile, random: Random): string[] {
  const bases: string[] = [];
  for (const hint of [profile.login, profile.displayName, profile.verifiedEmail?.split('@')[0]]) {
    const b = clean(hint);
    // A hint the username rules refuse (mixed scripts, say) would make every variant of it fail too.
    if (b && !bases.includes(b) && validUsername(b)) bases.push(b);
  }
  if (!bases.length) bases.push('user');
  const first = bases[0];
  const out: string[] = [first];
  for (let i = 2; i <= 9; i++) out.push(fit(first, `${i}`));
  out.push(...bases.slice(1));
  for (let i = 0; i < 8; i++) out.push(fit(first, newCode(random, DIGITS, 6)));
  return out.filter(validUsername);
}

function clean(hint: string | undefined): string | undefined {
  if (!hint) return undefined;
  const s = foldCase(hint)
    .trim()
    .replace(/\s+/g, '.')
    .replace(/[^\p{L}\p{N}._-]/gu, '')
    .replace(/^[._-]+|[._-]+$/g, '')
    .slice(0, 32);
  if (!s) return undefined;
  return s.length >= 3 ? s : `${s}.user`;
}

function fit(base: string, suffix: string): string {
  return `${base.slice(0, 32 - suffix.length - 1)}-${suffix}`;
}
