import type { Config } from '../../config/index.ts';
import { ConfigError } from '../../config/index.ts';

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

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined);

function githubProfile(user: Record<string, unknown>, emails?: unknown): ExternalProfile | undefined {
  const subject = str(user.id);
  if (!subject) return undefined;
  const list = Array.isArray(emails) ? (emails as Record<string, unknown>[]) : [];
  const primary = list.find((e) => e.primary === true && e.verified === true);
  return { subject, displayName: str(user.name) ?? str(user.login), login: str(user.login), verifiedEmail: str(primary?.email), email: str(user.email) };
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
 * The enabled providers, from configuration. A provider is enabled when both its client id and
 * secret are set; one half of a pair, or a generic provider missing its issuer, stops the start
 * with a message naming the variable.
 */
export function providersFromConfig(config: Config): Provider[] {
  const raw = config.raw as Record<string, string | undefined>;
  const problems: string[] = [];
  const out: Provider[] = [];
  const pair = (prefix: string): { clientId: string; clientSecret: string } | undefined => {
    const clientId = raw[`${prefix}_CLIENT_ID`];
    const clientSecret = raw[`${prefix}_CLIENT_SECRET`];
    if (!clientId && !clientSecret) return undefined;
    if (!clientId) problems.push(`${prefix}_CLIENT_ID: required when ${prefix}_CLIENT_SECRET is set`);
    if (!clientSecret) problems.push(`${prefix}_CLIENT_SECRET: required when ${prefix}_CLIENT_ID is set`);
    return clientId && clientSecret ? { clientId, clientSecret } : undefined;
  };

  const google = pair('LATCHKEY_GOOGLE');
  if (google) out.push({ kind: 'oidc', id: 'google', name: 'Google', badge: 'G', issuer: String(raw.LATCHKEY_GOOGLE_ISSUER), scopes: String(raw.LATCHKEY_GOOGLE_SCOPES), ...google });

  const ms = pair('LATCHKEY_MICROSOFT');
  if (ms) {
    const tenant = String(raw.LATCHKEY_MICROSOFT_TENANT ?? 'common');
    if (!/^[A-Za-z0-9.-]{1,128}$/.test(tenant)) problems.push(`LATCHKEY_MICROSOFT_TENANT=${JSON.stringify(tenant.slice(0, 80))}: must be common, organizations, consumers, a tenant id or a tenant domain`);
    out.push({
      kind: 'oidc',
      id: 'microsoft',
      name: String(raw.LATCHKEY_MICROSOFT_DISPLAY_NAME ?? 'Microsoft'),
      badge: 'M',
      // openid-client resolves the `{tenantid}` issuer of the multi-tenant endpoints from each token's `tid`.
      issuer: raw.LATCHKEY_MICROSOFT_ISSUER ?? `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/v2.0`,
      scopes: String(raw.LATCHKEY_MICROSOFT_SCOPES),
      ...ms,
    });
  }

  const linkedin = pair('LATCHKEY_LINKEDIN');
  if (linkedin) out.push({ kind: 'oidc', id: 'linkedin', name: 'LinkedIn', badge: 'in', issuer: String(raw.LATCHKEY_LINKEDIN_ISSUER), scopes: String(raw.LATCHKEY_LINKEDIN_SCOPES), ...linkedin });

  const github = pair('LATCHKEY_GITHUB');
  if (github)
    out.push({
      kind: 'oauth2',
      id: 'github',
      name: 'GitHub',
      badge: 'GH',
      authorizeUrl: String(raw.LATCHKEY_GITHUB_AUTHORIZE_URL),
      tokenUrl: String(raw.LATCHKEY_GITHUB_TOKEN_URL),
      userinfoUrl: String(raw.LATCHKEY_GITHUB_USERINFO_URL),
      emailsUrl: String(raw.LATCHKEY_GITHUB_EMAILS_URL),
      scopes: String(raw.LATCHKEY_GITHUB_SCOPES),
      basicAuth: false,
      profile: githubProfile,
      ...github,
    });

  const facebook = pair('LATCHKEY_FACEBOOK');
  if (facebook)
    out.push({
      kind: 'oauth2',
      id: 'facebook',
      name: 'Facebook',
      badge: 'f',
      authorizeUrl: String(raw.LATCHKEY_FACEBOOK_AUTHORIZE_URL),
      tokenUrl: String(raw.LATCHKEY_FACEBOOK_TOKEN_URL),
      userinfoUrl: String(raw.LATCHKEY_FACEBOOK_USERINFO_URL),
      scopes: String(raw.LATCHKEY_FACEBOOK_SCOPES),
      basicAuth: false,
      profile: facebookProfile,
      ...facebook,
    });

  const x = pair('LATCHKEY_X');
  if (x)
    out.push({
      kind: 'oauth2',
      id: 'x',
      name: 'X',
      badge: 'X',
      authorizeUrl: String(raw.LATCHKEY_X_AUTHORIZE_URL),
      tokenUrl: String(raw.LATCHKEY_X_TOKEN_URL),
      userinfoUrl: String(raw.LATCHKEY_X_USERINFO_URL),
      scopes: String(raw.LATCHKEY_X_SCOPES),
      basicAuth: true,
      profile: xProfile,
      ...x,
    });

  out.push(...genericProviders(raw, problems));
  if (problems.length) throw new ConfigError(problems);
  return out;
}

const FAMILY = /^LATCHKEY_OIDC_([A-Z0-9]+(?:_[A-Z0-9]+)*?)_(ISSUER|CLIENT_ID|CLIENT_SECRET|SCOPES|DISPLAY_NAME)$/;

function genericProviders(raw: Record<string, string | undefined>, problems: string[]): OidcProvider[] {
  const byName = new Map<string, Record<string, string>>();
  for (const [k, v] of Object.entries(raw)) {
    if (!k.startsWith('LATCHKEY_OIDC_') || typeof v !== 'string') continue;
    const m = FAMILY.exec(k);
    if (!m) {
      problems.push(`${k}: unknown setting; generic OpenID providers use LATCHKEY_OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _SCOPES, _DISPLAY_NAME`);
      continue;
    }
    const entry = byName.get(m[1]) ?? {};
    entry[m[2]] = v;
    byName.set(m[1], entry);
  }
  const out: OidcProvider[] = [];
  for (const [name, e] of byName) {
    const p = `LATCHKEY_OIDC_${name}`;
    for (const part of ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET'])
      if (!e[part]) problems.push(`${p}_${part}: required for the OpenID provider ${name}`);
    if (e.ISSUER) {
      try {
        const u = new URL(e.ISSUER);
        if (u.protocol !== 'https:' && !isLoopback(u)) problems.push(`${p}_ISSUER: must be an https URL`);
      } catch {
        problems.push(`${p}_ISSUER=${JSON.stringify(e.ISSUER.slice(0, 80))}: must be an absolute URL`);
      }
    }
    if (e.DISPLAY_NAME && e.DISPLAY_NAME.length > 60) problems.push(`${p}_DISPLAY_NAME: at most 60 characters`);
    if (!e.ISSUER || !e.CLIENT_ID || !e.CLIENT_SECRET) continue;
    const id = `oidc-${name.toLowerCase().replace(/_/g, '-')}`;
    const display = e.DISPLAY_NAME ?? name.charAt(0) + name.slice(1).toLowerCase();
    out.push({
      kind: 'oidc',
      id,
      name: display,
      badge: display.charAt(0).toUpperCase(),
      issuer: e.ISSUER,
      clientId: e.CLIENT_ID,
      clientSecret: e.CLIENT_SECRET,
      scopes: e.SCOPES ?? 'openid email profile',
    });
  }
  return out;
}

/** http is accepted only for a provider on this machine (tests and local development). */
export function isLoopback(u: URL): boolean {
  return u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
}
