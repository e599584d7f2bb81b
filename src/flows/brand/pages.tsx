import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Authenticated } from '../../web/auth.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { leadToReauthentication, type ReauthDeps } from '../../web/reauth.ts';
import { contextOf, field } from '../../web/request.ts';
import { type AccountPagesDeps, pageAuth } from '../account/pages.tsx';
import type { OrganizationService } from '../organizations/service.ts';
import { type BrandInput, type BrandService, type BrandView, LOGO_MAX_BYTES } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type BrandPagesDeps = {
  brandService: BrandService;
  organizations: OrganizationService;
} & AccountPagesDeps &
  ReauthDeps;

void Html;

/** The notice after each kind of save, as catalog keys (said in the reader's language when shown). */
const SAVED: Record<string, string> = {
  brand: 'brand.saved.brand',
  logo: 'brand.saved.logo',
  logo_removed: 'brand.saved.logo_removed',
};

function send(reply: FastifyReply, status: number, body: string) {
  return reply.status(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
}

function recentSignIn(d: BrandPagesDeps, auth: Authenticated): boolean {
  try {
    d.sessions.requireRecentAuth(auth.session);
    return true;
  } catch {
    return false;
  }
}

/** The organization the page is about: ?org=slug, else the signed-in account's own. */
async function slugOf(d: BrandPagesDeps, req: FastifyRequest, auth: Authenticated): Promise<string> {
  const q = (req.query as Record<string, unknown>)?.org;
  if (typeof q === 'string' && q.length <= 40) return q;
  return (await d.organizations.ofAccount(auth.account)).slug;
}

function renderBrand(
  d: BrandPagesDeps,
  reply: FastifyReply,
  auth: Authenticated,
  slug: string,
  view: BrandView,
  o: { typed?: BrandInput; error?: string; saved?: string; status?: number } = {},
) {
  const v = { ...view, ...o.typed };
  const action = `/admin/organization/brand?org=${encodeURIComponent(slug)}`;
  return send(
    reply,
    o.status ?? 200,
    Page({
      title: t('brand.title'),
      productName: d.config.productName,
      signedIn: { username: auth.account.username },
      children: (
        <>
          <Notice
            kind="success"
            text={o.saved && Object.hasOwn(SAVED, o.saved) ? t(SAVED[o.saved] as string) : undefined}
          />
          <Notice kind="error" text={o.error} />
          <Notice kind="info" text={recentSignIn(d, auth) ? undefined : t('brand.reauth_first')} />
          <form method="post" action={action} class="card" novalidate>
            <h2>{th('brand.name_heading')}</h2>
            <Field name="displayName" label={t('brand.display_name')} value={v.displayName ?? ''} maxlength={100} />
            <Field
              name="primaryColor"
              label={t('brand.primary_color')}
              value={v.primaryColor ?? ''}
              maxlength={7}
              hint={t('brand.primary_color_hint')}
            />
            <Field
              name="primaryColorDark"
              label={t('brand.primary_color_dark')}
              value={v.primaryColorDark ?? ''}
              maxlength={7}
              hint={t('brand.primary_color_dark_hint')}
            />
            <Field
              name="supportContact"
              label={t('brand.support_contact')}
              value={v.supportContact ?? ''}
              maxlength={200}
              required={false}
              hint={t('brand.support_contact_hint')}
            />
            <Field
              name="supportUrl"
              label={t('brand.support_url')}
              type="url"
              value={v.supportUrl ?? ''}
              maxlength={500}
              required={false}
              hint={t('brand.support_url_hint')}
            />
            <button type="submit" class="primary">
              {th('brand.save')}
            </button>
          </form>
          <section class="card" aria-labelledby="logo-h">
            <h2 id="logo-h">{th('brand.logo_heading')}</h2>
            {view.logoUrl ? (
              <p>
                <img src={view.logoUrl} alt={t('brand.logo_alt', { name: view.displayName })} height="48" />
              </p>
            ) : (
              <p>{th('brand.no_logo')}</p>
            )}
            <form
              data-logo-upload={`/api/v1/organizations/${encodeURIComponent(slug)}/logo`}
              data-done={`${action}&saved=logo`}
            >
              <div class="field">
                <label for="f-logo">{th('brand.logo_label')}</label>
                <input
                  id="f-logo"
                  name="logo"
                  type="file"
                  accept="image/png,image/jpeg,image/webp"
                  aria-describedby="f-logo-hint"
                />
                <p class="hint" id="f-logo-hint">
                  {th('brand.logo_hint', { kb: LOGO_MAX_BYTES / 1024, api: 'PUT /api/v1/organizations/{slug}/logo' })}
                </p>
              </div>
              <p class="notice error" role="alert" data-logo-error hidden></p>
              <button type="submit">{th('brand.upload')}</button>
            </form>
            {view.logoUrl ? (
              <form method="post" action={`/admin/organization/brand/logo/remove?org=${encodeURIComponent(slug)}`}>
                <button type="submit">{th('brand.remove')}</button>
              </form>
            ) : (
              ''
            )}
          </section>
          <script src="/static/brand-admin.js" defer></script>
        </>
      ),
    }),
  );
}

export function registerBrandPages(app: FastifyInstance, d: BrandPagesDeps): void {
  const gate = async (req: FastifyRequest, reply: FastifyReply, change: boolean) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return undefined;
    const slug = await slugOf(d, req, auth);
    const ctx = contextOf(req);
    if (change) await d.organizations.requireAdminChange(slug, auth, ctx, 'organization.brand');
    else await d.organizations.requireAdmin(slug, auth.account, ctx, 'organization.read');
    return { auth, slug, back: `/admin/organization/brand?org=${encodeURIComponent(slug)}` };
  };
  const refuse = (reply: FastifyReply, err: AppError) =>
    send(
      reply,
      err.status,
      Page({
        title: t('brand.not_allowed'),
        productName: d.config.productName,
        children: <Notice kind="error" text={pageMessage(err)} />,
      }),
    );

  app.get('/admin/organization/brand', { schema: { hide: true } }, async (req, reply) => {
    try {
      const g = await gate(req, reply, false);
      if (!g) return reply;
      const saved = (req.query as Record<string, unknown>)?.saved;
      const view = (await d.brandService.view(g.slug)) as BrandView;
      return renderBrand(d, reply, g.auth, g.slug, view, { saved: typeof saved === 'string' ? saved : undefined });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return refuse(reply, err);
    }
  });

  app.post('/admin/organization/brand', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const slug = await slugOf(d, req, auth);
    const back = `/admin/organization/brand?org=${encodeURIComponent(slug)}`;
    // Empty optional fields return to the install's values; what was typed is kept on an error.
    const typed: BrandInput = {
      displayName: field(req.body, 'displayName', 200),
      primaryColor: field(req.body, 'primaryColor', 32),
      primaryColorDark: field(req.body, 'primaryColorDark', 32),
      supportContact: field(req.body, 'supportContact', 400),
      supportUrl: field(req.body, 'supportUrl', 1000),
    };
    try {
      await d.brandService.update(slug, auth, typed, contextOf(req));
      return reply.redirect(`${back}&saved=brand`, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, back);
      if (err.code !== 'validation_failed') return refuse(reply, err);
      const view = (await d.brandService.view(slug)) as BrandView;
      return renderBrand(d, reply, auth, slug, view, { typed, error: pageMessage(err), status: err.status });
    }
  });

  app.post('/admin/organization/brand/logo/remove', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const slug = await slugOf(d, req, auth);
    const back = `/admin/organization/brand?org=${encodeURIComponent(slug)}`;
    try {
      await d.brandService.removeLogo(slug, auth, contextOf(req));
      return reply.redirect(`${back}&saved=logo_removed`, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, back);
      return refuse(reply, err);
    }
  });
}
