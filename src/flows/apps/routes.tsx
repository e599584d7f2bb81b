import type { IncomingMessage } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { AppError } from '../../errors.ts';
import { negotiate } from '../../i18n/locales.ts';
import { currentScope, offeredLocales } from '../../i18n/scope.ts';
import { t, th } from '../../i18n/translate.ts';
import type { Kernel } from '../../kernel.ts';
import { newToken } from '../../security/random.ts';
import type { Authenticated } from '../../web/auth.ts';
import { Html, Notice, Page } from '../../web/layout.tsx';
import { authOf, clearSessionCookie, contextOf, type RequestDeps } from '../../web/request.ts';
import { type ReturnUrlDeps, signInReturnTo } from '../../web/return-url.ts';
import { responses } from '../../web/schemas.ts';
import { INTERACTION_PATH, loginResult, OP_PREFIX, orgClaims } from './provider.ts';
import type { AppsService } from './service.ts';
import { trustedPeers } from './trusted-proxy.ts';

void Html;

/** What this module uses of the container the composition root builds. */
export type AppsRoutesDeps = Pick<Kernel, 'config' | 'db' | 'log' | 'random'> & {
  apps: AppsService;
} & RequestDeps &
  ReturnUrlDeps;

const DISCOVERY = '/.well-known/openid-configuration';
/** Discovery and JWKS change only with a restart or a key rotation; apps may cache them briefly. */
const METADATA_CACHE = 'public, max-age=300';

/** What each scope lets an app do, as the consent page says it (catalog keys). */
const SCOPE_TEXT: Record<string, string> = {
  openid: 'apps.scope.openid',
  profile: 'apps.scope.profile',
  email: 'apps.scope.email',
  phone: 'apps.scope.phone',
  organization: 'apps.scope.organization',
  offline_access: 'apps.scope.offline_access',
};

/**
 * An authorization request's `ui_locales` (OpenID Connect Core §3.1.2.1: space-separated, in
 * order of preference): the interaction pages speak the first one Latchkey offers. The app
 * asked for it for this sign-in, so it wins over the browser's and the account's language here.
 */
function applyUiLocales(uiLocales: unknown): void {
  if (typeof uiLocales !== 'string' || !uiLocales.trim()) return;
  const found = negotiate(uiLocales.trim().split(/\s+/).slice(0, 20).join(','), offeredLocales());
  const scope = currentScope();
  if (found && scope) scope.locale = found;
}

function problemPage(d: AppsRoutesDeps, reply: FastifyReply, status: number, title: string, message: string) {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .send(
      Page({
        title,
        productName: d.config.productName,
        children: (
          <>
            <Notice kind="error" text={message} />
            <p>
              <a href="/login">{th('apps.back_to_sign_in')}</a>
            </p>
          </>
        ),
      }),
    );
}

function expiredPage(d: AppsRoutesDeps, reply: FastifyReply) {
  return problemPage(d, reply, 400, t('apps.expired_title'), t('apps.expired'));
}

export function registerAppsRoutes(app: FastifyInstance, d: AppsRoutesDeps): void {
  const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>();
  const publicUrl = new URL(d.config.publicUrl);
  // Discovery, asked of the provider once per process through an internal request carrying this.
  const fillToken = newToken(d.random, 16);
  let discovery: Promise<string> | undefined;

  /** Hands the request to oidc-provider (a Koa app) as if it were mounted at /oidc. */
  function pass(req: FastifyRequest, reply: FastifyReply, path?: string): void {
    const provider = d.apps.provider;
    let handle = handlers.get(provider);
    if (!handle) {
      handle = provider.callback();
      handlers.set(provider, handle);
    }
    const raw = req.raw as IncomingMessage & { originalUrl?: string };
    // Security headers written by the onRequest hook (WEB-03) go out with the provider's answer.
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) reply.raw.setHeader(k, v);
    const url = path ?? raw.url ?? '/';
    raw.originalUrl = url;
    raw.url = url.slice(OP_PREFIX.length) || '/';
    // REC-05: URLs the provider builds use the configured public origin, never the request's Host.
    raw.headers['x-forwarded-host'] = publicUrl.host;
    raw.headers['x-forwarded-proto'] = publicUrl.protocol.slice(0, -1);
    raw.headers['x-forwarded-for'] = req.ip;
    reply.hijack();
    handle(raw, reply.raw);
  }

  // oidc-provider reads its own request bodies: in this scope no parser consumes them.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    scope.all(`${OP_PREFIX}/*`, { schema: { hide: true } }, async (req, reply) => pass(req, reply));
  });

  async function discoveryDocument(): Promise<string> {
    discovery ??= app
      .inject({ method: 'GET', url: `${OP_PREFIX}${DISCOVERY}`, headers: { 'x-latchkey-fill': fillToken } })
      .then((r) => {
        if (r.statusCode !== 200) throw new Error(`discovery answered ${r.statusCode}`);
        return r.body;
      });
    try {
      return await discovery;
    } catch (err) {
      discovery = undefined;
      throw err;
    }
  }
  const sendDiscovery = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.headers['x-latchkey-fill'] === fillToken) return pass(req, reply, `${OP_PREFIX}${DISCOVERY}`);
    const body = await discoveryDocument();
    return reply
      .header('cache-control', METADATA_CACHE)
      .header('access-control-allow-origin', '*')
      .type('application/json; charset=utf-8')
      .send(body);
  };
  // The issuer is {public URL}/oidc; the root path answers too, for clients that look there.
  app.get(DISCOVERY, { schema: { hide: true } }, sendDiscovery);
  app.get(`${OP_PREFIX}${DISCOVERY}`, { schema: { hide: true } }, sendDiscovery);

  const jwksBodies = new WeakMap<object, string>();
  app.get(`${OP_PREFIX}/jwks`, { schema: { hide: true } }, async (_req, reply) => {
    const keys = d.apps.keys;
    let body = jwksBodies.get(keys);
    if (!body) {
      body = JSON.stringify({ keys: keys.public });
      jwksBodies.set(keys, body);
    }
    return reply
      .header('cache-control', METADATA_CACHE)
      .header('access-control-allow-origin', '*')
      .type('application/jwk-set+json; charset=utf-8')
      .send(body);
  });

  // --- interactions: Latchkey's own pages sign the user in, then consent (OP-06)

  app.get(`${INTERACTION_PATH}/:uid`, { schema: { hide: true } }, async (req, reply) => {
    const provider = d.apps.provider;
    const { uid } = req.params as { uid: string };
    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      details = await provider.interactionDetails(req.raw, reply.raw);
    } catch {
      return expiredPage(d, reply);
    }
    if (details.uid !== uid) return expiredPage(d, reply);
    const back = `${INTERACTION_PATH}/${uid}`;
    const auth = await authOf(d, req);
    applyUiLocales(details.params.ui_locales);
    if (details.prompt.name === 'login') {
      // prompt=login or max_age: a sign-in older than this request does not count.
      const fresh = details.prompt.reasons.some((r) => r === 'login_prompt' || r === 'max_age');
      if (auth && fresh && auth.session.auth_at < details.iat * 1000) {
        await d.sessions.signOut(auth.session, contextOf(req));
        clearSessionCookie(d, reply);
        return reply.redirect(`/login?msg=reauthenticate&return_to=${encodeURIComponent(back)}`, 303);
      }
      if (!auth) return reply.redirect(`/login?return_to=${encodeURIComponent(back)}`, 303);
      return finish(req, reply, loginResult(auth.session), false);
    }
    if (details.prompt.name === 'consent') {
      if (!auth || auth.account.id !== details.session?.accountId)
        return reply.redirect(`/login?return_to=${encodeURIComponent(back)}`, 303);
      const client = await d.apps.clients.get(String(details.params.client_id));
      if (!client) return problemPage(d, reply, 400, t('apps.unknown_app_title'), t('apps.unknown_app'));
      if (client.firstParty) return grantConsent(req, reply, details);
      return consentPage(reply, auth, client.name, String(details.params.scope ?? 'openid'), uid);
    }
    return problemPage(d, reply, 400, t('apps.not_possible_title'), t('apps.not_possible'));
  });

  app.post(`${INTERACTION_PATH}/:uid/consent`, { schema: { hide: true } }, async (req, reply) => {
    const provider = d.apps.provider;
    const { uid } = req.params as { uid: string };
    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      details = await provider.interactionDetails(req.raw, reply.raw);
    } catch {
      return expiredPage(d, reply);
    }
    const auth = await authOf(d, req);
    applyUiLocales(details.params.ui_locales);
    if (
      details.uid !== uid ||
      details.prompt.name !== 'consent' ||
      !auth ||
      auth.account.id !== details.session?.accountId
    )
      return expiredPage(d, reply);
    const decision = (req.body as Record<string, unknown> | undefined)?.decision;
    if (decision !== 'allow') {
      return finish(req, reply, { error: 'access_denied', error_description: 'The user did not allow access.' }, false);
    }
    return grantConsent(req, reply, details);
  });

  async function grantConsent(
    req: FastifyRequest,
    reply: FastifyReply,
    details: Awaited<ReturnType<Provider['interactionDetails']>>,
  ) {
    const provider = d.apps.provider;
    const accountId = String(details.session?.accountId);
    const clientId = String(details.params.client_id);
    const grant =
      (details.grantId && (await provider.Grant.find(details.grantId))) || new provider.Grant({ accountId, clientId });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
      grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    return finish(req, reply, { consent: { grantId } }, true);
  }

  /**
   * Hands the interaction's result to the provider and continues to its resume URL. Not by a
   * redirect: these answers end a navigation that began with a form (sign-in, consent), and
   * browsers hold every redirect of such a navigation to the page's CSP `form-action 'self'`,
   * which the final redirect to the app would break. A Refresh header (and a link, for
   * anything that ignores it) starts a new navigation instead.
   */
  async function finish(req: FastifyRequest, reply: FastifyReply, result: Record<string, unknown>, merge: boolean) {
    const to = await d.apps.provider.interactionResult(req.raw, reply.raw, result, { mergeWithLastSubmission: merge });
    return reply
      .header('refresh', `0;url=${to}`)
      .type('text/html; charset=utf-8')
      .send(
        Page({
          title: t('apps.continuing'),
          productName: d.config.productName,
          children: (
            <p>
              <a href={to} data-continue>
                {th('apps.continue')}
              </a>
            </p>
          ),
        }),
      );
  }

  function consentPage(reply: FastifyReply, auth: Authenticated, clientName: string, scope: string, uid: string) {
    const scopes = scope.split(' ').filter((s) => Object.hasOwn(SCOPE_TEXT, s));
    return reply.type('text/html; charset=utf-8').send(
      Page({
        title: t('apps.consent_title'),
        productName: d.config.productName,
        signedIn: { username: auth.account.username },
        children: (
          <>
            <p>
              {th('apps.consent_intro', {
                app: clientName,
                username: auth.account.username,
                strong: (s) => `<strong>${s}</strong>`,
              })}
            </p>
            <ul data-consent-scopes>
              {scopes.map((s) => (
                <li>{th(SCOPE_TEXT[s] as string)}</li>
              ))}
            </ul>
            <p class="hint">{th('apps.consent_hint')}</p>
            <form method="post" action={`${INTERACTION_PATH}/${encodeURIComponent(uid)}/consent`} class="card">
              <button type="submit" name="decision" value="allow" class="primary">
                {th('apps.allow')}
              </button>{' '}
              <button type="submit" name="decision" value="deny">
                {th('apps.deny')}
              </button>
            </form>
          </>
        ),
      }),
    );
  }

  // --- /settings: the apps the user signed in to, revocable (OP-06)

  app.post('/settings/apps/:clientId/revoke', { schema: { hide: true } }, async (req, reply) => {
    const auth = await authOf(d, req);
    if (!auth) return reply.redirect('/login?msg=session_ended', 303);
    const { clientId } = req.params as { clientId: string };
    try {
      await d.apps.revokeApp(auth.account.id, clientId, contextOf(req));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
    }
    return reply.redirect('/settings?done=app_revoked#apps', 303);
  });

  // --- forward-auth for reverse proxies (nginx auth_request, Traefik forwardAuth, Caddy forward_auth)

  const trusted = trustedPeers(d.config.trustedProxies);
  app.get(
    '/api/v1/forward-auth',
    {
      schema: {
        tags: ['apps'],
        summary: 'Forward-auth check for a reverse proxy',
        description:
          '200 with X-Latchkey-User, X-Latchkey-Email and X-Latchkey-Groups when the request carries a valid session. Without one: 401 for API requests (Accept without text/html), a redirect to /login?return_to=<original URL> for pages. The original URL is read from X-Original-URL (nginx) or X-Forwarded-Proto/Host/Uri (Traefik, Caddy), only when the peer is in LATCHKEY_TRUSTED_PROXIES. Behind nginx the login URL comes back in X-Latchkey-Login with the 401 (nginx cannot pass a redirect on).',
        response: responses({ 200: Type.Null(), 302: Type.Null() }, [401]),
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      const auth = await authOf(d, req);
      if (auth) {
        const { groups } = await orgClaims(d, auth.account);
        reply
          .header('x-latchkey-user', auth.account.username)
          .header('x-latchkey-email', auth.account.email ?? '')
          .header('x-latchkey-groups', groups.join(','));
        return reply.status(200).send();
      }
      const fromProxy = trusted(req.socket.remoteAddress);
      const h = req.headers;
      const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
      let original: string | undefined;
      if (fromProxy) {
        const xo = one(h['x-original-url']);
        const host = one(h['x-forwarded-host']);
        if (xo) original = xo;
        else if (host)
          original = `${one(h['x-forwarded-proto']) ?? 'https'}://${host}${one(h['x-forwarded-uri']) ?? '/'}`;
      }
      const accept = one(h.accept) ?? '';
      const path = original ? (URL.canParse(original) ? new URL(original).pathname : '') : '';
      const page = accept.includes('text/html') && !path.startsWith('/api/');
      const returnTo = signInReturnTo(d, original);
      const login = `${d.config.publicUrl}/login${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''}`;
      if (page && !(fromProxy && h['x-original-url'])) return reply.redirect(login, 302);
      if (page) reply.header('x-latchkey-login', login);
      throw new AppError('unauthorized');
    },
  );
}

/** The "Apps you signed in to" section of /settings. */
export async function appsSection(
  d: { apps: AppsService },
  auth: Authenticated,
  flash: string | undefined,
): Promise<string> {
  const apps = await d.apps.appsOf(auth.account.id);
  return (
    <section class="card" id="apps" aria-labelledby="apps-h">
      <h2 id="apps-h">{th('apps.apps_heading')}</h2>
      {flash === 'app_revoked' ? <Notice kind="success" text={t('apps.app_revoked')} /> : ''}
      {apps.length ? (
        <ul class="plain">
          {apps.map((a) => (
            <li>
              <span safe>{a.name}</span>{' '}
              <form method="post" action={`/settings/apps/${encodeURIComponent(a.clientId)}/revoke`} class="inline">
                <button
                  type="submit"
                  data-revoke-app={a.clientId}
                  aria-label={t('apps.revoke_label', { name: a.name })}
                >
                  {th('apps.revoke')}
                </button>
              </form>
            </li>
          ))}
        </ul>
      ) : (
        <p class="hint">{th('apps.no_apps')}</p>
      )}
    </section>
  ) as string;
}
