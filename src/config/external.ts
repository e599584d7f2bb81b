// The external-account settings (src/methods/external/): one entry per enabled provider, and the
// generic OpenID Connect providers of the LATCHKEY_OIDC_<NAME>_* family. A provider is enabled
// when both its client id and secret are set; one half of a pair, or a generic provider missing
// its issuer, is a problem naming the variable.
import type { FamilyValues, Settings } from './load.ts';

interface Credentials {
  clientId: string;
  clientSecret: string;
}
export interface OidcSettings extends Credentials {
  issuer: string;
  scopes: string;
}
export interface OAuthSettings extends Credentials {
  scopes: string;
  authorizeUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
}
/** a LATCHKEY_OIDC_<NAME>_* provider: id `oidc-<name>` */
export interface GenericOidcSettings extends OidcSettings {
  id: string;
  name: string;
}

export interface ExternalConfig {
  timeoutMs: number;
  /** EXT-07: origins besides the public URL's that sign-in may return to */
  returnOrigins: string[];
  google?: OidcSettings;
  microsoft?: OidcSettings & { displayName: string };
  linkedin?: OidcSettings;
  github?: OAuthSettings & { emailsUrl: string };
  facebook?: OAuthSettings;
  x?: OAuthSettings;
  oidc: GenericOidcSettings[];
}

export function externalSection(s: Settings, families: FamilyValues, problems: string[]): ExternalConfig {
  const pair = (
    prefix: string,
    clientId: string | undefined,
    clientSecret: string | undefined,
  ): Credentials | undefined => {
    if (!clientId && !clientSecret) return undefined;
    if (!clientId) problems.push(`${prefix}_CLIENT_ID: required when ${prefix}_CLIENT_SECRET is set`);
    if (!clientSecret) problems.push(`${prefix}_CLIENT_SECRET: required when ${prefix}_CLIENT_ID is set`);
    return clientId && clientSecret ? { clientId, clientSecret } : undefined;
  };
  const allowlist = s.LATCHKEY_RETURN_URL_ALLOWLIST ?? [];
  const badOrigins = allowlist.filter((e) => !/^https?:\/\//.test(originOf(e)));
  if (badOrigins.length)
    problems.push(
      `LATCHKEY_RETURN_URL_ALLOWLIST: ${badOrigins.join(', ')}: each entry must be an origin like https://app.example.com`,
    );
  const out: ExternalConfig = {
    timeoutMs: s.LATCHKEY_EXTERNAL_TIMEOUT,
    returnOrigins: allowlist.map(originOf),
    oidc: [],
  };

  const google = pair('LATCHKEY_GOOGLE', s.LATCHKEY_GOOGLE_CLIENT_ID, s.LATCHKEY_GOOGLE_CLIENT_SECRET);
  if (google) out.google = { issuer: s.LATCHKEY_GOOGLE_ISSUER, scopes: s.LATCHKEY_GOOGLE_SCOPES, ...google };

  const ms = pair('LATCHKEY_MICROSOFT', s.LATCHKEY_MICROSOFT_CLIENT_ID, s.LATCHKEY_MICROSOFT_CLIENT_SECRET);
  if (ms) {
    const tenant = s.LATCHKEY_MICROSOFT_TENANT;
    if (!/^[A-Za-z0-9.-]{1,128}$/.test(tenant))
      problems.push(
        `LATCHKEY_MICROSOFT_TENANT=${JSON.stringify(tenant.slice(0, 80))}: must be common, organizations, consumers, a tenant id or a tenant domain`,
      );
    out.microsoft = {
      displayName: s.LATCHKEY_MICROSOFT_DISPLAY_NAME,
      // openid-client resolves the `{tenantid}` issuer of the multi-tenant endpoints from each token's `tid`.
      issuer: s.LATCHKEY_MICROSOFT_ISSUER ?? `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/v2.0`,
      scopes: s.LATCHKEY_MICROSOFT_SCOPES,
      ...ms,
    };
  }

  const linkedin = pair('LATCHKEY_LINKEDIN', s.LATCHKEY_LINKEDIN_CLIENT_ID, s.LATCHKEY_LINKEDIN_CLIENT_SECRET);
  if (linkedin) out.linkedin = { issuer: s.LATCHKEY_LINKEDIN_ISSUER, scopes: s.LATCHKEY_LINKEDIN_SCOPES, ...linkedin };

  const github = pair('LATCHKEY_GITHUB', s.LATCHKEY_GITHUB_CLIENT_ID, s.LATCHKEY_GITHUB_CLIENT_SECRET);
  if (github)
    out.github = {
      authorizeUrl: s.LATCHKEY_GITHUB_AUTHORIZE_URL,
      tokenUrl: s.LATCHKEY_GITHUB_TOKEN_URL,
      userinfoUrl: s.LATCHKEY_GITHUB_USERINFO_URL,
      emailsUrl: s.LATCHKEY_GITHUB_EMAILS_URL,
      scopes: s.LATCHKEY_GITHUB_SCOPES,
      ...github,
    };

  const facebook = pair('LATCHKEY_FACEBOOK', s.LATCHKEY_FACEBOOK_CLIENT_ID, s.LATCHKEY_FACEBOOK_CLIENT_SECRET);
  if (facebook)
    out.facebook = {
      authorizeUrl: s.LATCHKEY_FACEBOOK_AUTHORIZE_URL,
      tokenUrl: s.LATCHKEY_FACEBOOK_TOKEN_URL,
      userinfoUrl: s.LATCHKEY_FACEBOOK_USERINFO_URL,
      scopes: s.LATCHKEY_FACEBOOK_SCOPES,
      ...facebook,
    };

  const x = pair('LATCHKEY_X', s.LATCHKEY_X_CLIENT_ID, s.LATCHKEY_X_CLIENT_SECRET);
  if (x)
    out.x = {
      authorizeUrl: s.LATCHKEY_X_AUTHORIZE_URL,
      tokenUrl: s.LATCHKEY_X_TOKEN_URL,
      userinfoUrl: s.LATCHKEY_X_USERINFO_URL,
      scopes: s.LATCHKEY_X_SCOPES,
      ...x,
    };

  out.oidc = genericOidc(families.LATCHKEY_OIDC_ ?? new Map(), problems);
  return out;
}

function genericOidc(byName: Map<string, Record<string, string>>, problems: string[]): GenericOidcSettings[] {
  const out: GenericOidcSettings[] = [];
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
    out.push({
      id: `oidc-${name.toLowerCase().replace(/_/g, '-')}`,
      name: e.DISPLAY_NAME ?? name.charAt(0) + name.slice(1).toLowerCase(),
      issuer: e.ISSUER,
      clientId: e.CLIENT_ID,
      clientSecret: e.CLIENT_SECRET,
      scopes: e.SCOPES,
    });
  }
  return out;
}

/** http is accepted only for a provider on this machine (tests and local development). */
export function isLoopback(u: URL): boolean {
  return u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
}

/** Allow-list entries are origins; a malformed one matches nothing (and is refused at start). */
export function originOf(entry: string): string {
  try {
    return new URL(entry).origin;
  } catch {
    return `invalid:${entry}`;
  }
}
