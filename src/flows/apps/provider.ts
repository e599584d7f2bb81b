import type Provider from 'oidc-provider';
import { systemContext } from '../../context.ts';
import { defaultLocale } from '../../i18n/scope.ts';
import { t, th } from '../../i18n/translate.ts';
import type { Kernel } from '../../kernel.ts';
import { isMultiFactor, parseAmr } from '../../security/amr.ts';
import { keyedHash } from '../../security/hashing.ts';
import { findAccount } from '../../store/accounts.ts';
import { type OidcClientRow, payloadAdapter } from '../../store/oidc-store.ts';
import { Html, Page } from '../../web/layout.tsx';
import type { SessionPort } from '../../web/request.ts';
import { sessionCookieName } from '../../web/request.ts';
import { clientMetadata } from './clients.ts';
import type { SigningKeys } from './keys.ts';

void Html;

/** What this module uses of the container the composition root builds. */
export type ProviderDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'secret' | 'log'> & { sessions: SessionPort };

/** acr values (OP-02): what the sign-in behind the tokens proved. */
export const ACR_SINGLE = 'urn:latchkey:acr:1fa';
export const ACR_MULTI = 'urn:latchkey:acr:mfa';

export const OP_PREFIX = '/oidc';
export const INTERACTION_PATH = `${OP_PREFIX}/interaction`;

const SCOPE_CLAIMS = {
  sid: null,
  iss: null,
  // OP-02: every ID token says when and how the user signed in, asked for or not (the library
  // adds these only when requested otherwise).
  openid: ['sub', 'auth_time', 'acr', 'amr'],
  profile: ['preferred_username', 'name', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  organization: ['org', 'groups'],
};

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Organization claims: the account's organization and its role there (owner/admin) when any. */
export async function orgClaims(d: Pick<Kernel, 'db'>, account: { id: string; org_id: string; is_staff: number }) {
  const org = await d.db
    .selectFrom('organizations')
    .select(['id', 'slug', 'name'])
    .where('id', '=', account.org_id)
    .executeTakeFirst();
  const member = await d.db
    .selectFrom('org_members')
    .select('role')
    .where('org_id', '=', account.org_id)
    .where('account_id', '=', account.id)
    .executeTakeFirst();
  const groups = org ? [org.slug, ...(member ? [`${org.slug}:${member.role}`] : [])] : [];
  if (account.is_staff) groups.push('latchkey:staff');
  return {
    org: org ? { id: org.id, slug: org.slug, name: org.name, role: member?.role ?? 'member' } : undefined,
    groups,
  };
}

function page(d: ProviderDeps, title: string, body: string): string {
  return Page({ title, productName: d.config.productName, children: body });
}

/**
 * The oidc-provider instance behind /oidc. Its rules are OP-01..OP-07: code flow only with PKCE
 * S256 for every client, exact redirect URIs (the library's), `iss` in every authorization
 * response (RFC 9207, the library's), rotating refresh tokens whose reuse revokes the grant (the
 * library's), no `none`-signed request objects, and its sessions tied to Latchkey's own session:
 * without the Latchkey session of the same account, every authorization goes back to /login.
 */
export type OidcProviderLib = typeof import('oidc-provider');

export function buildProvider(d: ProviderDeps, keys: SigningKeys, lib: OidcProviderLib): Provider {
  const { default: Provider, interactionPolicy } = lib;
  const sec = (ms: number) => Math.max(1, Math.floor(ms / 1000));
  const op = d.config.op;
  const cookieName = sessionCookieName(d);
  const policy = interactionPolicy.base();
  policy.get('login').checks.add(
    new interactionPolicy.Check(
      'latchkey_session',
      'the Latchkey session of this account has ended',
      async (ctx: { get(h: string): string; oidc: { session: { accountId?: string } } }) => {
        const auth = await d.sessions.authenticate(cookieValue(ctx.get('cookie'), cookieName));
        return !auth || auth.account.id !== ctx.oidc.session.accountId
          ? interactionPolicy.Check.REQUEST_PROMPT
          : interactionPolicy.Check.NO_NEED_TO_PROMPT;
      },
    ),
  );

  const provider = new Provider(`${d.config.publicUrl}${OP_PREFIX}`, {
    adapter: (model: string) =>
      payloadAdapter(
        d.db,
        model,
        () => d.clock.now(),
        (r: OidcClientRow) => clientMetadata(d.secret, r),
      ),
    jwks: { keys: keys.private },
    cookies: {
      keys: [keyedHash(d.secret, 'oidc-cookies', 'v1')],
      names: { session: 'latchkey_op', interaction: 'latchkey_op_interaction', resume: 'latchkey_op_resume' },
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    async findAccount(_ctx: unknown, sub: string) {
      const account = await findAccount(d.db, sub);
      if (account?.status !== 'active') return undefined;
      return {
        accountId: account.id,
        async claims() {
          const { org, groups } = await orgClaims(d, account);
          return {
            sub: account.id,
            preferred_username: account.username,
            ...(account.display_name ? { name: account.display_name } : {}),
            // The language the account chose (issue 17), else the install's default.
            locale: account.locale ?? defaultLocale(),
            updated_at: Math.floor(account.updated_at / 1000),
            ...(account.email ? { email: account.email, email_verified: account.activated_at !== null } : {}),
            ...(account.phone
              ? { phone_number: account.phone, phone_number_verified: account.phone_verified_at !== null }
              : {}),
            ...(org ? { org } : {}),
            groups,
          };
        },
      };
    },
    claims: SCOPE_CLAIMS,
    scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', 'organization'],
    acrValues: [ACR_SINGLE, ACR_MULTI],
    responseTypes: ['code'],
    routes: { revocation: '/revoke', introspection: '/introspect' },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: { properties: ['latchkey_first_party'] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      // A client learns about its own tokens only: another client's token is `active: false`.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) =>
          token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) =>
          token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      // Request objects are understood so that an unsigned one is refused (not ignored):
      // `none` is not among the accepted algorithms.
      requestObjects: { enabled: true, requireSignedRequestObject: false },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx: { body: string; type: string }, form: string) {
          ctx.type = 'html';
          ctx.body = page(
            d,
            t('apps.logout_title'),
            `${form}<p>${th('apps.logout_question', { product: d.config.productName })}</p>
<p class="actions"><button class="primary" autofocus type="submit" form="op.logoutForm" value="yes" name="logout">${th('apps.logout_yes')}</button>
<button type="submit" form="op.logoutForm">${th('apps.logout_no')}</button></p>`,
          );
        },
        async postLogoutSuccessSource(ctx: { body: string; type: string }) {
          ctx.type = 'html';
          ctx.body = page(
            d,
            t('apps.signed_out_title'),
            `<p>${th('apps.signed_out')}</p><p><a href="/login">${th('apps.sign_in_again')}</a></p>`,
          );
        },
      },
    },
    enabledJWA: {
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    ttl: {
      AccessToken: sec(op.accessTokenTtl),
      AuthorizationCode: sec(op.codeTtl),
      IdToken: sec(op.idTokenTtl),
      RefreshToken: sec(op.refreshTokenTtl),
      Grant: sec(op.refreshTokenTtl),
      Session: sec(d.config.session.absoluteTtl),
      Interaction: 3600,
    },
    // OP-03: every use of a refresh token rotates it; the library revokes the whole grant when
    // a rotated (consumed) one comes back.
    rotateRefreshToken: true,
    // Any client allowed the refresh_token grant gets one; no `offline_access` + `prompt=consent` dance.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    interactions: {
      policy,
      url: (_ctx: unknown, interaction: { uid: string }) => `${INTERACTION_PATH}/${interaction.uid}`,
    },
    async renderError(ctx: { body: string; type: string }, out: { error: string; error_description?: string }) {
      ctx.type = 'html';
      ctx.body = page(
        d,
        t('apps.refused_title'),
        `<div class="notice error" role="alert"><p>${Html.escapeHtml(out.error_description ?? out.error)}</p></div><p><a href="/login">${th('apps.back_to_sign_in')}</a></p>`,
      );
    },
  });
  // Latchkey's public origin, never the request's Host, builds every URL (REC-05): the mount
  // sets X-Forwarded-Host/Proto from the configuration.
  provider.proxy = true;
  provider.on('server_error', (_ctx: unknown, err: Error) => d.log.error({ err }, 'openid provider error'));
  // RP-initiated logout that signs out of Latchkey ends the Latchkey session too, or the next
  // authorization would sign the browser straight back in.
  provider.on('end_session.success', (ctx: { get(h: string): string; oidc: { params: { logout?: string } } }) => {
    if (!ctx.oidc.params.logout) return;
    void (async () => {
      const auth = await d.sessions.authenticate(cookieValue(ctx.get('cookie'), cookieName));
      if (auth) await d.sessions.signOut(auth.session, systemContext('oidc-logout'));
    })().catch((err) => d.log.warn({ err }, 'ending the Latchkey session at RP-initiated logout failed'));
  });
  return provider;
}

/** The login result for a Latchkey session: who, when, and what the sign-in proved (OP-02). */
export function loginResult(session: { account_id: string; auth_at: number; amr: string }) {
  const amr = parseAmr(session.amr);
  return {
    login: {
      accountId: session.account_id,
      ts: Math.floor(session.auth_at / 1000),
      amr,
      acr: isMultiFactor(amr) ? ACR_MULTI : ACR_SINGLE,
      remember: false,
    },
  };
}
