import * as oidc from 'openid-client';
import { type ExternalProfile, isLoopback, type OAuthProvider, type Provider } from './providers.ts';

/** Why an external sign-in attempt stopped; each kind has its own page message. */
export type ExternalFailure =
  | 'state_mismatch' // no, expired or foreign flow cookie, or a state that does not match (EXT-01)
  | 'denied' // the user cancelled or the provider refused
  | 'invalid_response' // a token or answer that failed validation (EXT-02)
  | 'unavailable'; // the provider could not be reached or answered nonsense

export class ExternalError extends Error {
  constructor(
    readonly kind: ExternalFailure,
    message: string,
    readonly providerError?: string,
  ) {
    super(message);
    this.name = 'ExternalError';
  }
}

export interface Attempt {
  state: string;
  nonce?: string;
  verifier: string;
  url: string;
}

/**
 * One provider's OAuth 2.0 / OpenID Connect client on openid-client 6. OpenID providers are
 * configured by discovery (once, on first use; a failed discovery is retried next time); GitHub,
 * Facebook and X by explicit endpoints. Plain http is allowed only for a provider on this machine
 * (tests, local development): openid-client refuses it otherwise.
 */
export class ProviderClient {
  private configuration?: Promise<oidc.Configuration>;

  constructor(
    readonly provider: Provider,
    readonly redirectUri: string,
    private readonly timeoutMs: number,
  ) {}

  private config(): Promise<oidc.Configuration> {
    this.configuration ??= this.build().catch((err) => {
      this.configuration = undefined;
      throw err;
    });
    return this.configuration;
  }

  private async build(): Promise<oidc.Configuration> {
    const p = this.provider;
    const timeout = Math.max(1, Math.ceil(this.timeoutMs / 1000));
    if (p.kind === 'oidc') {
      const issuer = new URL(p.issuer);
      // openid-client skips the ID token signature check for tokens fetched straight from the
      // token endpoint (OIDC Core 3.1.3.7 lets TLS stand in for it). EXT-02 wants the signature
      // checked against the provider's published keys anyway, so turn that check on.
      const execute = [oidc.enableNonRepudiationChecks];
      if (issuer.protocol === 'http:' && isLoopback(issuer)) execute.push(oidc.allowInsecureRequests);
      const discover = (auth: oidc.ClientAuth) =>
        oidc.discovery(issuer, p.clientId, { client_secret: p.clientSecret }, auth, { execute, timeout });
      let config = await discover(oidc.ClientSecretPost(p.clientSecret));
      // The spec's default is HTTP Basic; some providers accept nothing else.
      const methods = config.serverMetadata().token_endpoint_auth_methods_supported;
      if (methods && !methods.includes('client_secret_post') && methods.includes('client_secret_basic'))
        config = await discover(oidc.ClientSecretBasic(p.clientSecret));
      config.timeout = timeout;
      return config;
    }
    const server: oidc.ServerMetadata = {
      issuer: new URL(p.authorizeUrl).origin,
      authorization_endpoint: p.authorizeUrl,
      token_endpoint: p.tokenUrl,
    };
    const auth = p.basicAuth ? oidc.ClientSecretBasic(p.clientSecret) : oidc.ClientSecretPost(p.clientSecret);
    const config = new oidc.Configuration(server, p.clientId, { client_secret: p.clientSecret }, auth);
    const urls = [p.authorizeUrl, p.tokenUrl, p.userinfoUrl, p.emailsUrl]
      .filter((u): u is string => !!u)
      .map((u) => new URL(u));
    if (urls.some((u) => u.protocol === 'http:') && urls.every((u) => u.protocol === 'https:' || isLoopback(u)))
      oidc.allowInsecureRequests(config);
    config.timeout = timeout;
    return config;
  }

  /** A fresh state, PKCE S256 verifier and (OpenID) nonce per attempt (EXT-01). */
  async start(): Promise<Attempt> {
    const config = await this.config().catch((err) => {
      throw unavailable(err);
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = this.provider.kind === 'oidc' ? oidc.randomNonce() : undefined;
    const params: Record<string, string> = {
      redirect_uri: this.redirectUri,
      scope: this.provider.scopes,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (nonce) params.nonce = nonce;
    return { state, nonce, verifier, url: oidc.buildAuthorizationUrl(config, params).href };
  }

  /**
   * Exchanges the code and returns who signed in. openid-client checks the state, sends the PKCE
   * verifier, and validates the ID token in full: signature against the provider's published
   * keys, iss, aud, exp, iat and nonce, with `alg: none` and unexpected algorithms refused (EXT-02).
   * Access tokens are used once here and never stored.
   */
  async finish(callbackUrl: URL, attempt: Omit<Attempt, 'url'>): Promise<ExternalProfile> {
    const config = await this.config().catch((err) => {
      throw unavailable(err);
    });
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(
        config,
        callbackUrl,
        this.provider.kind === 'oidc'
          ? {
              pkceCodeVerifier: attempt.verifier,
              expectedState: attempt.state,
              expectedNonce: attempt.nonce,
              idTokenExpected: true,
            }
          : { pkceCodeVerifier: attempt.verifier, expectedState: attempt.state },
        { redirect_uri: this.redirectUri },
      );
    } catch (err) {
      throw classify(err);
    }
    try {
      return this.provider.kind === 'oidc'
        ? await this.oidcProfile(config, tokens)
        : await this.oauthProfile(config, this.provider, tokens.access_token);
    } catch (err) {
      throw err instanceof ExternalError ? err : classify(err);
    }
  }

  private async oidcProfile(
    config: oidc.Configuration,
    tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  ): Promise<ExternalProfile> {
    const claims = tokens.claims();
    if (!claims) throw new ExternalError('invalid_response', 'no ID token');
    let info: Record<string, unknown> = { ...claims };
    // Many providers put profile claims only in userinfo; its `sub` must match the ID token's.
    if ((info.email === undefined || info.name === undefined) && config.serverMetadata().userinfo_endpoint)
      info = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...claims };
    const email = typeof info.email === 'string' ? info.email : undefined;
    return {
      subject: claims.sub,
      displayName: str(info.name) ?? joinName(info.given_name, info.family_name),
      login: str(info.preferred_username) ?? str(info.nickname),
      email,
      verifiedEmail: email && info.email_verified === true ? email : undefined,
    };
  }

  private async oauthProfile(
    config: oidc.Configuration,
    p: OAuthProvider,
    accessToken: string,
  ): Promise<ExternalProfile> {
    const get = async (url: string) => {
      const res = await oidc.fetchProtectedResource(
        config,
        accessToken,
        new URL(url),
        'GET',
        undefined,
        new Headers({ accept: 'application/json' }),
      );
      if (!res.ok) throw new ExternalError('unavailable', `${url} answered ${res.status}`);
      return res.json() as Promise<unknown>;
    };
    const user = await get(p.userinfoUrl);
    if (!user || typeof user !== 'object')
      throw new ExternalError('invalid_response', 'user API did not return an object');
    const emails = p.emailsUrl ? await get(p.emailsUrl).catch(() => undefined) : undefined;
    const profile = p.profile(user as Record<string, unknown>, emails);
    if (!profile) throw new ExternalError('invalid_response', 'user API gave no user id');
    return profile;
  }
}

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
const joinName = (a: unknown, b: unknown) => str([str(a), str(b)].filter(Boolean).join(' '));

function unavailable(err: unknown): ExternalError {
  return new ExternalError('unavailable', `provider not reachable: ${(err as Error)?.message ?? String(err)}`);
}

function classify(err: unknown): ExternalError {
  if (err instanceof ExternalError) return err;
  if (err instanceof oidc.AuthorizationResponseError) return new ExternalError('denied', err.message, err.error);
  if (err instanceof oidc.ResponseBodyError) return new ExternalError('denied', err.message, err.error);
  const code = (err as { code?: string })?.code ?? '';
  const message = (err as Error)?.message ?? String(err);
  if (/state/i.test(message) && code !== 'OAUTH_TIMEOUT') return new ExternalError('state_mismatch', message);
  if (code === 'OAUTH_TIMEOUT' || err instanceof TypeError || /fetch failed|ECONNREFUSED|timeout|abort/i.test(message))
    return new ExternalError('unavailable', message);
  return new ExternalError('invalid_response', `${code} ${message}`.trim());
}
