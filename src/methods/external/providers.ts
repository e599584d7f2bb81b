import type { Config } from '../../config/index.ts';

/** What a provider tells us about the person, reduced to what Latchkey keeps. */
export interface ExternalProfile {
  subject: string;
  displayName?: string;
  /** a username hint (login, preferred_username …) */
  login?: string;
  /** only set when the provider vouches that the address is verified */
  verifiedEmail?: string;
  /** the address the provider gave, verified or not (shown, never trusted) */
  email?: string;
}

interface Base {
  /** the URL segment and the `external:<id>` method name */
  id: string;
  name: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  /** a one or two letter badge for the button (no third-party logos are shipped) */
  badge: string;
}

export interface OidcProvider extends Base {
  kind: 'oidc';
  issuer: string;
}

export interface OAuthProvider extends Base {
  kind: 'oauth2';
  authorizeUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
  emailsUrl?: string;
  /** X wants HTTP Basic client authentication; the others take the secret in the body */
  basicAuth: boolean;
  /** turns the user API's JSON (and GitHub's email list) into a profile */
  profile(user: Record<string, unknown>, emails?: unknown): ExternalProfile | undefined;
}

export type Provider = OidcProvider | OAuthProvider;

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined;

function githubProfile(user: Record<string, unknown>, emails?: unknown): ExternalProfile | undefined {
  const subject = str(user.id);
  if (!subject) return undefined;
  const list = Array.isArray(emails) ? (emails as Record<string, unknown>[]) : [];
  const primary = list.find((e) => e.primary === true && e.verified === true);
  return {
    subject,
    displayName: str(user.name) ?? str(user.login),
    login: str(user.login),
    verifiedEmail: str(primary?.email),
    email: str(user.email),
  };
}

// Facebook does not say whether the address it returns was confirmed, so it is never trusted as
// verified (the account gets no email; the user can add one later).
function facebookProfile(user: Record<string, unknown>): ExternalProfile | undefined {
  const subject = str(user.id);
  return subject ? { subject, displayName: str(user.name), email: str(user.email) } : undefined;
}

function xProfile(body: Record<string, unknown>): ExternalProfile | undefined {
  const user = (body.data ?? {}) as Record<string, unknown>;
  const subject = str(user.id);
  return subject ? { subject, displayName: str(user.name), login: str(user.username) } : undefined;
}

/**
 * The enabled providers, from the external section of the configuration (checked at start:
 * src/config/external.ts), with what Latchkey knows about each: badge, endpoints, profile shape.
 */
export function providersFromConfig(config: Config): Provider[] {
  const e = config.external;
  const out: Provider[] = [];
  if (e.google) out.push({ kind: 'oidc', id: 'google', name: 'Google', badge: 'G', ...e.google });
  if (e.microsoft) {
    const { displayName, ...ms } = e.microsoft;
    out.push({ kind: 'oidc', id: 'microsoft', name: displayName, badge: 'M', ...ms });
  }
  if (e.linkedin) out.push({ kind: 'oidc', id: 'linkedin', name: 'LinkedIn', badge: 'in', ...e.linkedin });
  if (e.github)
    out.push({
      kind: 'oauth2',
      id: 'github',
      name: 'GitHub',
      badge: 'GH',
      basicAuth: false,
      profile: githubProfile,
      ...e.github,
    });
  if (e.facebook)
    out.push({
      kind: 'oauth2',
      id: 'facebook',
      name: 'Facebook',
      badge: 'f',
      basicAuth: false,
      profile: facebookProfile,
      ...e.facebook,
    });
  if (e.x) out.push({ kind: 'oauth2', id: 'x', name: 'X', badge: 'X', basicAuth: true, profile: xProfile, ...e.x });
  for (const p of e.oidc) out.push({ kind: 'oidc', badge: p.name.charAt(0).toUpperCase(), ...p });
  return out;
}

export { isLoopback } from '../../config/external.ts';
