// External identity providers for tests, all real HTTP servers on 127.0.0.1:
// - OidcProvider: a certified OpenID provider (oidc-provider) with an interaction handler that
//   logs in the subject chosen by the test and grants consent (or cancels, when asked to);
// - FakeOAuthServer: an OAuth 2.0 server shaped like GitHub's, Facebook's or X's (authorize,
//   token with PKCE check, user and emails APIs);
// - ForgingOidcServer: a small OpenID provider we control that signs ID tokens with a key it
//   publishes at its JWKS URI, or hands out broken ones (alg none, wrong aud/iss/nonce, expired…);
// - Agent: a cookie-jar "browser" that follows redirects across all of these origins.

import { createHash, createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function redirect(res: ServerResponse, location: string) {
  res.writeHead(302, { location });
  res.end();
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Client credentials from Basic auth or the form body. */
function clientCredentials(req: IncomingMessage, form: URLSearchParams): { id?: string; secret?: string } {
  const h = req.headers.authorization;
  if (h?.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':').map(decodeURIComponent);
    return { id, secret };
  }
  return { id: form.get('client_id') ?? undefined, secret: form.get('client_secret') ?? undefined };
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

// ---------------------------------------------------------------------------------------------

export interface OidcUser {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
}

/** oidc-provider on a free port; `nextUser` is who "signs in" at the provider next. */
export class OidcProvider {
  url = '';
  nextUser: OidcUser = { sub: 'user-1' };
  /** when set, the user "cancels" at the provider */
  cancel = false;
  private server?: Server;
  private readonly users = new Map<string, OidcUser>();

  constructor(
    readonly clientId: string,
    readonly clientSecret: string,
  ) {}

  async start(redirectUris: () => string[]): Promise<this> {
    const { default: Provider } = (await import('oidc-provider' as string)) as { default: any };
    let provider: any;
    const { server, url } = await listen((req, res) => {
      if (req.url?.startsWith('/interaction/')) {
        this.interact(provider, req, res).catch((err) => {
          res.statusCode = 500;
          res.end(String(err));
        });
        return;
      }
      provider.callback()(req, res);
    });
    this.server = server;
    this.url = url;
    provider = new Provider(url, {
      clients: [
        {
          client_id: this.clientId,
          client_secret: this.clientSecret,
          redirect_uris: redirectUris(),
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      cookies: { keys: [randomBytes(16).toString('hex')] },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
      findAccount: async (_ctx: unknown, sub: string) => {
        const u = this.users.get(sub) ?? { sub };
        return { accountId: sub, claims: async () => ({ ...u }) };
      },
      ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
      clockTolerance: 5,
    });
    provider.on('server_error', () => {});
    return this;
  }

  private async interact(provider: any, req: IncomingMessage, res: ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    if (this.cancel) {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled.' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (details.prompt.name === 'login') {
      const u = this.nextUser;
      this.users.set(u.sub, u);
      await provider.interactionFinished(req, res, { login: { accountId: u.sub } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes)
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes))
        grant.addResourceScope(indicator, (scopes as string[]).join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  async stop(): Promise<void> {
    if (this.server) await close(this.server);
  }
}

// ---------------------------------------------------------------------------------------------

export type OAuthShape = 'github' | 'facebook' | 'x';

export interface OAuthUser {
  id: string;
  login?: string;
  name?: string;
  email?: string;
  emailVerified?: boolean;
}

/** An OAuth 2.0 server shaped like GitHub's, Facebook's or X's. */
export class FakeOAuthServer {
  url = '';
  nextUser: OAuthUser = { id: '1001', login: 'octo', name: 'Octo Cat' };
  cancel = false;
  /** refuses the token request (provider trouble) */
  failToken = false;
  private server?: Server;
  private readonly codes = new Map<
    string,
    { challenge?: string; method?: string; redirectUri: string; user: OAuthUser }
  >();
  private readonly tokens = new Map<string, OAuthUser>();

  constructor(
    readonly shape: OAuthShape,
    readonly clientId: string,
    readonly clientSecret: string,
  ) {}

  /** Settings that point Latchkey's provider at this server. */
  env(): Record<string, string> {
    const P = this.shape.toUpperCase();
    const e: Record<string, string> = {
      [`LATCHKEY_${P}_CLIENT_ID`]: this.clientId,
      [`LATCHKEY_${P}_CLIENT_SECRET`]: this.clientSecret,
      [`LATCHKEY_${P}_AUTHORIZE_URL`]: `${this.url}/authorize`,
      [`LATCHKEY_${P}_TOKEN_URL`]: `${this.url}/token`,
      [`LATCHKEY_${P}_USERINFO_URL`]: `${this.url}/user`,
    };
    if (this.shape === 'github') e.LATCHKEY_GITHUB_EMAILS_URL = `${this.url}/user/emails`;
    return e;
  }

  async start(): Promise<this> {
    const { server, url } = await listen((req, res) => {
      this.handle(req, res).catch((err) => json(res, 500, { error: String(err) }));
    });
    this.server = server;
    this.url = url;
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', this.url);
    if (u.pathname === '/authorize') {
      const q = u.searchParams;
      const back = new URL(q.get('redirect_uri') ?? '');
      if (q.get('client_id') !== this.clientId) return json(res, 400, { error: 'unknown client' });
      if (q.get('state')) back.searchParams.set('state', q.get('state') as string);
      if (this.cancel) {
        back.searchParams.set('error', 'access_denied');
        return redirect(res, back.href);
      }
      const code = randomBytes(16).toString('hex');
      this.codes.set(code, {
        challenge: q.get('code_challenge') ?? undefined,
        method: q.get('code_challenge_method') ?? undefined,
        redirectUri: q.get('redirect_uri') ?? '',
        user: this.nextUser,
      });
      back.searchParams.set('code', code);
      return redirect(res, back.href);
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await bodyOf(req));
      const c = clientCredentials(req, form);
      if (this.shape === 'x' && !req.headers.authorization) return json(res, 401, { error: 'invalid_client' });
      if (c.id !== this.clientId || c.secret !== this.clientSecret) return json(res, 401, { error: 'invalid_client' });
      if (this.failToken) return json(res, 503, { error: 'temporarily_unavailable' });
      const code = form.get('code') ?? '';
      const entry = this.codes.get(code);
      this.codes.delete(code);
      if (!entry || entry.redirectUri !== form.get('redirect_uri')) return json(res, 400, { error: 'invalid_grant' });
      if (entry.method !== 'S256' || !entry.challenge || s256(form.get('code_verifier') ?? '') !== entry.challenge)
        return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
      const token = randomBytes(16).toString('hex');
      this.tokens.set(token, entry.user);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: '' });
    }
    const auth = req.headers.authorization ?? '';
    const user = this.tokens.get(auth.replace(/^Bearer /i, ''));
    if (!user) return json(res, 401, { message: 'Bad credentials' });
    if (u.pathname === '/user/emails' && this.shape === 'github') {
      return json(
        res,
        200,
        user.email ? [{ email: user.email, primary: true, verified: user.emailVerified === true }] : [],
      );
    }
    if (u.pathname === '/user') {
      if (this.shape === 'github')
        return json(res, 200, { id: Number(user.id), login: user.login, name: user.name ?? null, email: null });
      if (this.shape === 'facebook') return json(res, 200, { id: user.id, name: user.name, email: user.email });
      return json(res, 200, { data: { id: user.id, name: user.name, username: user.login } });
    }
    return json(res, 404, { error: 'not found' });
  }

  async stop(): Promise<void> {
    if (this.server) await close(this.server);
  }
}

// ---------------------------------------------------------------------------------------------

export type ForgeMode =
  | 'good'
  | 'alg_none'
  | 'wrong_aud'
  | 'wrong_iss'
  | 'wrong_nonce'
  | 'no_nonce'
  | 'expired'
  | 'bad_signature'
  | 'unpublished_key'
  | 'hs256_with_public_key'
  | 'other_provider';

interface Key {
  kid: string;
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

function rsaKey(kid: string): Key {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    privateKey,
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as object), kid, alg: 'RS256', use: 'sig' },
  };
}

/**
 * A minimal OpenID provider whose token endpoint returns the ID token the test asks for. The
 * authorize endpoint answers at once (no login screen); `mode` decides what gets forged.
 */
export class ForgingOidcServer {
  url = '';
  mode: ForgeMode = 'good';
  user: OidcUser = { sub: 'forged-1', email: 'forged@example.test', email_verified: true, name: 'Forged User' };
  /** another provider's identity, for `other_provider`: its issuer, client id and key */
  otherIssuer = 'https://other-provider.example';
  otherClientId = 'other-client';
  private readonly key = rsaKey('k1');
  private readonly unpublished = rsaKey('k1');
  private readonly otherKey = rsaKey('other');
  private server?: Server;
  private readonly codes = new Map<string, { nonce?: string; challenge?: string }>();

  constructor(
    readonly clientId: string,
    readonly clientSecret: string,
  ) {}

  async start(): Promise<this> {
    const { server, url } = await listen((req, res) => {
      this.handle(req, res).catch((err) => json(res, 500, { error: String(err) }));
    });
    this.server = server;
    this.url = url;
    return this;
  }

  private jwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: Key | 'none' | 'hs256'): string {
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
    if (key === 'none') return `${input}.`;
    if (key === 'hs256') {
      // The classic confusion attack: HMAC keyed with the published public key.
      return `${input}.${createHmac('sha256', JSON.stringify(this.key.publicJwk)).update(input).digest('base64url')}`;
    }
    return `${input}.${b64u(sign('sha256', Buffer.from(input), key.privateKey))}`;
  }

  private idToken(nonce: string | undefined): string {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: this.url,
      aud: this.clientId,
      iat: now,
      exp: now + 300,
      nonce,
      ...this.user,
    };
    const header = { alg: 'RS256', kid: this.key.kid, typ: 'JWT' };
    switch (this.mode) {
      case 'alg_none':
        return this.jwt({ alg: 'none', typ: 'JWT' }, claims, 'none');
      case 'wrong_aud':
        return this.jwt(header, { ...claims, aud: 'someone-else' }, this.key);
      case 'wrong_iss':
        return this.jwt(header, { ...claims, iss: 'https://evil.example' }, this.key);
      case 'wrong_nonce':
        return this.jwt(header, { ...claims, nonce: 'not-the-nonce' }, this.key);
      case 'no_nonce':
        return this.jwt(header, { ...claims, nonce: undefined }, this.key);
      case 'expired':
        return this.jwt(header, { ...claims, iat: now - 7200, exp: now - 3600 }, this.key);
      case 'bad_signature': {
        const t = this.jwt(header, claims, this.key);
        const [h, p] = t.split('.');
        return `${h}.${p}.${b64u(randomBytes(256))}`;
      }
      case 'unpublished_key':
        return this.jwt(header, claims, this.unpublished);
      case 'hs256_with_public_key':
        return this.jwt({ alg: 'HS256', kid: this.key.kid, typ: 'JWT' }, claims, 'hs256');
      case 'other_provider':
        return this.jwt(
          { alg: 'RS256', kid: this.otherKey.kid, typ: 'JWT' },
          { ...claims, iss: this.otherIssuer, aud: this.otherClientId },
          this.otherKey,
        );
      default:
        return this.jwt(header, claims, this.key);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', this.url);
    if (u.pathname === '/.well-known/openid-configuration')
      return json(res, 200, {
        issuer: this.url,
        authorization_endpoint: `${this.url}/authorize`,
        token_endpoint: `${this.url}/token`,
        jwks_uri: `${this.url}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
        code_challenge_methods_supported: ['S256'],
      });
    if (u.pathname === '/jwks') return json(res, 200, { keys: [this.key.publicJwk] });
    if (u.pathname === '/authorize') {
      const q = u.searchParams;
      const back = new URL(q.get('redirect_uri') ?? '');
      const code = randomBytes(16).toString('hex');
      this.codes.set(code, { nonce: q.get('nonce') ?? undefined, challenge: q.get('code_challenge') ?? undefined });
      back.searchParams.set('code', code);
      if (q.get('state')) back.searchParams.set('state', q.get('state') as string);
      return redirect(res, back.href);
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await bodyOf(req));
      const c = clientCredentials(req, form);
      if (c.id !== this.clientId || c.secret !== this.clientSecret) return json(res, 401, { error: 'invalid_client' });
      const entry = this.codes.get(form.get('code') ?? '');
      this.codes.delete(form.get('code') ?? '');
      if (!entry?.challenge || s256(form.get('code_verifier') ?? '') !== entry.challenge)
        return json(res, 400, { error: 'invalid_grant' });
      return json(res, 200, {
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: 300,
        id_token: this.idToken(entry.nonce),
      });
    }
    return json(res, 404, { error: 'not found' });
  }

  async stop(): Promise<void> {
    if (this.server) await close(this.server);
  }
}

// ---------------------------------------------------------------------------------------------

export interface AgentResponse {
  status: number;
  url: string;
  headers: Headers;
  text: string;
  json: any;
  /** every URL visited, the first request included */
  trail: string[];
}

/**
 * A browser stand-in: one cookie jar per host (cookie paths and expiry are honoured loosely:
 * an expired cookie is dropped), follows redirects across origins, sends the page's Origin on
 * POST/DELETE like a browser does.
 */
export class Agent {
  readonly jars = new Map<string, Map<string, string>>();

  private jar(host: string) {
    let j = this.jars.get(host);
    if (!j) {
      j = new Map();
      this.jars.set(host, j);
    }
    return j;
  }

  cookie(host: string, name: string): string | undefined {
    return this.jars.get(host)?.get(name);
  }

  async request(
    method: string,
    url: string,
    o: { form?: Record<string, string>; json?: unknown; follow?: boolean } = {},
  ): Promise<AgentResponse> {
    const trail: string[] = [];
    let current = new URL(url);
    let m = method;
    let body: string | undefined;
    let contentType: string | undefined;
    if (o.form) {
      body = new URLSearchParams(o.form).toString();
      contentType = 'application/x-www-form-urlencoded';
    } else if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      contentType = 'application/json';
    }
    for (let hop = 0; hop < 20; hop++) {
      trail.push(current.href);
      const headers: Record<string, string> = { accept: o.json !== undefined ? 'application/json' : 'text/html' };
      const j = this.jar(current.host);
      if (j.size) headers.cookie = [...j].map(([k, v]) => `${k}=${v}`).join('; ');
      if (m !== 'GET' && m !== 'HEAD') headers.origin = current.origin;
      if (contentType && body !== undefined) headers['content-type'] = contentType;
      const res = await fetch(current, { method: m, headers, body, redirect: 'manual' });
      for (const c of res.headers.getSetCookie()) {
        const [pair, ...attrs] = c.split(';');
        const i = pair.indexOf('=');
        const name = pair.slice(0, i).trim();
        const value = pair.slice(i + 1).trim();
        const expired = attrs.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim()));
        if (!value || expired) j.delete(name);
        else j.set(name, value);
      }
      // Like a browser, an immediate Refresh header counts as a redirect.
      const refresh = /^\s*0\s*;\s*url=(.+)$/i.exec(res.headers.get('refresh') ?? '')?.[1];
      const location = res.headers.get('location') ?? refresh;
      if (o.follow !== false && location && ((res.status >= 300 && res.status < 400) || refresh)) {
        await res.arrayBuffer();
        current = new URL(location, current);
        if (res.status !== 307 && res.status !== 308) {
          m = 'GET';
          body = undefined;
          contentType = undefined;
        }
        continue;
      }
      const text = await res.text();
      let parsed: any;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, url: current.href, headers: res.headers, text, json: parsed, trail };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  get(url: string, follow = true) {
    return this.request('GET', url, { follow });
  }
  form(url: string, fields: Record<string, string>, follow = true) {
    return this.request('POST', url, { form: fields, follow });
  }
  post(url: string, body: unknown) {
    return this.request('POST', url, { json: body });
  }
  delete(url: string) {
    return this.request('DELETE', url, {});
  }
}
