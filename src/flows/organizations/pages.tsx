import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { LANGUAGE_NAMES, type Locale } from '../../i18n/locales.ts';
import { defaultLocale, offeredLocales } from '../../i18n/scope.ts';
import { t, th } from '../../i18n/translate.ts';
import type { Kernel } from '../../kernel.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { PageExtras } from '../../web/extras.ts';
import { Html, Notice, Page } from '../../web/layout.tsx';
import { leadToReauthentication, type ReauthDeps } from '../../web/reauth.ts';
import { contextOf, field } from '../../web/request.ts';
import { type AccountPagesDeps, pageAuth } from '../account/pages.tsx';
import type { RecoveryMethods } from '../recovery/method.ts';
import {
  changeWithCodePost,
  forgotPasswordPost,
  type RecoveryPagesDeps,
  renderChangeWithCode,
  renderForgot,
} from '../recovery/pages.tsx';
import {
  activateGet,
  activatePost,
  type RegistrationPagesDeps,
  registerGet,
  registerPost,
  renderResend,
  resendPost,
} from '../registration/pages.tsx';
import type { SessionService } from '../sessions/service.ts';
import { loginGet, loginPost, type SigninPagesDeps } from '../signin/pages.tsx';
import type { Organization, OrganizationService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type OrganizationsPagesDeps = Pick<Kernel, 'config'> & {
  sessions: SessionService;
  recoveryMethods: RecoveryMethods;
  organizations: OrganizationService;
  pages: Pick<PageExtras, 'orgSettingsSections'>;
} & ReauthDeps &
  AccountPagesDeps &
  RecoveryPagesDeps &
  RegistrationPagesDeps &
  SigninPagesDeps;

void Html;

function send(reply: FastifyReply, status: number, body: string) {
  return reply.status(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
}

async function renderOrgSettings(
  d: OrganizationsPagesDeps,
  reply: FastifyReply,
  auth: Authenticated,
  org: Organization,
  o: {
    /** what the admin typed, shown again with the error instead of the stored values */
    typed?: Record<string, unknown>;
    error?: string;
    saved?: boolean;
    securitySaved?: boolean;
    languageSaved?: boolean;
    /** the language the admin picked, shown again with the error */
    typedLanguage?: string;
    status?: number;
    staleSignIn?: boolean;
  } = {},
) {
  const stored: Record<string, unknown> = { ...org.recovery };
  const v = o.typed ?? stored;
  const checkedMethods = Array.isArray(v.methods) ? (v.methods as string[]) : [];
  const language = o.typedLanguage ?? org.security.defaultLanguage ?? '';
  const extras = await Promise.all((d.pages.orgSettingsSections ?? []).map((x) => x(org)));
  return send(
    reply,
    o.status ?? 200,
    Page({
      title: t('organizations.settings_title'),
      productName: org.displayName,
      signedIn: { username: auth.account.username },
      children: (
        <>
          <Notice kind="success" text={o.saved ? t('organizations.recovery_saved') : undefined} />
          <Notice kind="success" text={o.securitySaved ? t('organizations.signin_saved') : undefined} />
          <Notice kind="success" text={o.languageSaved ? t('organizations.language_saved') : undefined} />
          <Notice kind="error" text={o.error} />
          <Notice kind="info" text={o.staleSignIn ? t('organizations.stale_sign_in') : undefined} />
          <form
            method="post"
            action={`/admin/organization?org=${encodeURIComponent(org.slug)}`}
            class="card"
            novalidate
          >
            <h2>{th('organizations.recovery_heading', { org: org.displayName })}</h2>
            <fieldset>
              <legend>{th('organizations.methods_legend')}</legend>
              {d.recoveryMethods.all().map(({ id: m, label }) => (
                <div class="field check">
                  <input type="checkbox" id={`m-${m}`} name="methods" value={m} checked={checkedMethods.includes(m)} />
                  <label for={`m-${m}`} safe>
                    {label}
                  </label>
                </div>
              ))}
            </fieldset>
            {d.recoveryMethods.settings().map(([k, b]) => (
              <div class="field">
                <label for={`f-${k}`} safe>
                  {b.label}
                </label>
                <input
                  id={`f-${k}`}
                  name={k}
                  type="number"
                  inputmode="numeric"
                  min={b.min}
                  max={b.max}
                  value={String(v[k] ?? '')}
                  required
                />
              </div>
            ))}
            <button type="submit" class="primary">
              {th('organizations.save')}
            </button>
          </form>
          <form
            method="post"
            action={`/admin/organization/security?org=${encodeURIComponent(org.slug)}`}
            class="card"
            novalidate
          >
            <h2>{th('organizations.signin_heading', { org: org.displayName })}</h2>
            <div class="field check">
              <input type="hidden" name="requireSecondFactor" value="0" />
              <input
                type="checkbox"
                id="f-require-second-factor"
                name="requireSecondFactor"
                value="1"
                checked={org.security.requireSecondFactor}
              />
              <label for="f-require-second-factor">{th('organizations.require_second_factor')}</label>
            </div>
            <p class="hint">{th('organizations.require_second_factor_hint')}</p>
            <button type="submit">{th('organizations.save_signin')}</button>
          </form>
          <form
            method="post"
            action={`/admin/organization/security?org=${encodeURIComponent(org.slug)}`}
            class="card"
            id="language"
            novalidate
          >
            <h2>{th('organizations.language_heading', { org: org.displayName })}</h2>
            <div class="field">
              <label for="f-default-language">{th('organizations.default_language')}</label>
              <select id="f-default-language" name="defaultLanguage" aria-describedby="f-default-language-hint">
                <option value="" selected={!language}>
                  {th('organizations.install_default', {
                    language: LANGUAGE_NAMES[defaultLocale() as Locale] ?? defaultLocale(),
                  })}
                </option>
                {offeredLocales().map((l) => (
                  <option value={l} lang={l} selected={l === language} safe>
                    {LANGUAGE_NAMES[l as Locale] ?? l}
                  </option>
                ))}
              </select>
            </div>
            <p class="hint" id="f-default-language-hint">
              {th('organizations.language_hint', { org: org.displayName })}
            </p>
            <button type="submit">{th('organizations.save_language')}</button>
          </form>
          <p>
            <a href={`/admin/organization/brand?org=${encodeURIComponent(org.slug)}`}>
              {th('organizations.brand_link')}
            </a>
          </p>
          {extras.join('') as 'safe'}
        </>
      ),
    }),
  );
}

function renderForbidden(d: OrganizationsPagesDeps, reply: FastifyReply, status: number, text: string) {
  return send(
    reply,
    status,
    Page({
      title: status === 404 ? t('organizations.not_found_title') : t('organizations.not_allowed_title'),
      productName: d.config.productName,
      children: <Notice kind="error" text={text} />,
    }),
  );
}

/** Whether a change would pass SES-07 now, so the page can say beforehand that it will not. */
function recentSignIn(d: OrganizationsPagesDeps, auth: Authenticated): boolean {
  try {
    d.sessions.requireRecentAuth(auth.session);
    return true;
  } catch {
    return false;
  }
}

/** Which organization the page is about: ?org=slug, else the signed-in account's own. */
async function targetSlug(d: OrganizationsPagesDeps, req: FastifyRequest, auth: Authenticated): Promise<string> {
  const q = (req.query as Record<string, unknown>)?.org;
  if (typeof q === 'string' && q) return q.slice(0, 40);
  return (await d.organizations.ofAccount(auth.account)).slug;
}

/** A form posts every setting; repeated checkboxes arrive as an array. */
function formSettings(d: OrganizationsPagesDeps, body: unknown): Record<string, unknown> {
  const b = (body ?? {}) as Record<string, unknown>;
  const raw = b.methods;
  const methods = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .filter((m) => typeof m === 'string')
    .slice(0, 10);
  const out: Record<string, unknown> = { methods };
  for (const [k] of d.recoveryMethods.settings()) {
    const s = field(b, k, 20).trim();
    out[k] = /^\d+$/.test(s) ? Number(s) : s;
  }
  return out;
}

export function registerOrganizationsPages(app: FastifyInstance, d: OrganizationsPagesDeps): void {
  // Pages in an organization's context: its recovery methods, its name. Sign-in and the code
  // pages are the same for every organization, so those paths lead to the shared pages.
  const orgOf = async (req: FastifyRequest, reply: FastifyReply) => {
    const org = await d.organizations.bySlug(String((req.params as { slug?: string }).slug ?? '').slice(0, 40));
    if (!org) renderForbidden(d, reply, 404, t('organizations.no_such_org'));
    return org;
  };
  app.get('/o/:slug/forgot-password', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? renderForgot(d, reply, { org }) : reply;
  });
  app.post('/o/:slug/forgot-password', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? forgotPasswordPost(d, req, reply, org) : reply;
  });
  // Sign-in itself is the same for every organization (identifiers are unique across the
  // install); the page wears the organization's name and links to its own recovery and sign-up.
  app.get('/o/:slug/login', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? loginGet(d, req, reply, org) : reply;
  });
  // Posts stay in the organization's context, so an error shows its page, not the install's.
  app.post('/o/:slug/login', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? loginPost(d, req, reply, org) : reply;
  });
  app.get('/o/:slug/register', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? registerGet(d, req, reply, org) : reply;
  });
  app.post('/o/:slug/register', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? registerPost(d, req, reply, org) : reply;
  });
  app.get('/o/:slug/activate', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? activateGet(d, req, reply, org) : reply;
  });
  app.post('/o/:slug/activate', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? activatePost(d, req, reply, org) : reply;
  });
  app.get('/o/:slug/activate/resend', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? renderResend(d, reply, { org }) : reply;
  });
  app.post('/o/:slug/activate/resend', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? resendPost(d, req, reply, org) : reply;
  });
  // Codes are bound to the account, not the organization; the page keeps the organization's name and links.
  app.get('/o/:slug/change-password', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? renderChangeWithCode(d, reply, { org }) : reply;
  });
  app.post('/o/:slug/change-password', { schema: { hide: true } }, async (req, reply) => {
    const org = await orgOf(req, reply);
    return org ? changeWithCodePost(d, req, reply, org) : reply;
  });

  app.get('/admin/organization', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    try {
      const org = await d.organizations.requireAdmin(
        await targetSlug(d, req, auth),
        auth.account,
        contextOf(req),
        'organization.read',
      );
      return renderOrgSettings(d, reply, auth, org, {
        saved: (req.query as Record<string, unknown>)?.saved === '1',
        securitySaved: (req.query as Record<string, unknown>)?.saved === 'security',
        languageSaved: (req.query as Record<string, unknown>)?.saved === 'language',
        staleSignIn: !recentSignIn(d, auth),
      });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return renderForbidden(d, reply, err.status, pageMessage(err));
    }
  });

  app.post('/admin/organization', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const slug = await targetSlug(d, req, auth);
    const page = `/admin/organization?org=${encodeURIComponent(slug)}`;
    const typed = formSettings(d, req.body);
    try {
      await d.organizations.updateRecoverySettings(slug, auth, typed, contextOf(req));
      return reply.redirect(`${page}&saved=1`, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      // SES-07: sign in again, come back to this page, save again.
      if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, page);
      if (err.code !== 'validation_failed') return renderForbidden(d, reply, err.status, pageMessage(err));
      const org = await d.organizations.bySlug(slug);
      if (!org) return renderForbidden(d, reply, 404, t('organizations.not_found'));
      const msg = err.extra.fields?.map((f) => f.message).join(' ') || pageMessage(err);
      return renderOrgSettings(d, reply, auth, org, { error: msg, status: 400, typed });
    }
  });

  app.post('/admin/organization/security', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const slug = await targetSlug(d, req, auth);
    const page = `/admin/organization?org=${encodeURIComponent(slug)}`;
    // Two forms post here: the sign-in rules and the default language; each changes its own field.
    const body = (req.body ?? {}) as Record<string, unknown>;
    const input: Record<string, unknown> = {};
    if (body.requireSecondFactor !== undefined) {
      // A checked box sends "0" (the hidden field) and then "1": the last value wins.
      const raw = body.requireSecondFactor;
      const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
      input.requireSecondFactor = value === '1';
    }
    const typedLanguage = body.defaultLanguage !== undefined ? field(body, 'defaultLanguage', 35) : undefined;
    if (typedLanguage !== undefined) input.defaultLanguage = typedLanguage || null;
    try {
      await d.organizations.updateSecuritySettings(slug, auth, input, contextOf(req));
      const saved = typedLanguage !== undefined && input.requireSecondFactor === undefined ? 'language' : 'security';
      return reply.redirect(`${page}&saved=${saved}${saved === 'language' ? '#language' : ''}`, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, page);
      if (err.code !== 'validation_failed') return renderForbidden(d, reply, err.status, pageMessage(err));
      const org = await d.organizations.bySlug(slug);
      if (!org) return renderForbidden(d, reply, 404, t('organizations.not_found'));
      return renderOrgSettings(d, reply, auth, org, { error: pageMessage(err), status: 400, typedLanguage });
    }
  });
}

/** A /settings section for an organization's admins: the way to its settings page (defect 11 of issue 17). */
export async function adminLinkSection(d: OrganizationsPagesDeps, auth: Authenticated): Promise<string> {
  const role = await d.organizations.roleOf(auth.account.org_id, auth.account.id);
  if (!role) return '';
  const org = await d.organizations.ofAccount(auth.account);
  return (
    <section class="card" id="organization" aria-labelledby="organization-h">
      <h2 id="organization-h">{th('organizations.admin_link_heading')}</h2>
      <p>
        {th('organizations.admin_link', {
          role,
          org: org.displayName,
          strong: (s) => `<strong>${s}</strong>`,
          link: (s) => `<a href="/admin/organization?org=${encodeURIComponent(org.slug)}">${s}</a>`,
        })}
      </p>
    </section>
  ) as string;
}
