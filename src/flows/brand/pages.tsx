import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
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

const SAVED: Record<string, string> = {
  brand: 'Brand saved.',
  logo: 'Logo saved.',
  logo_removed: 'Logo removed.',
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
      title: 'Organization brand',
      productName: d.config.productName,
      signedIn: { username: auth.account.username },
      children: (
        <>
          <Notice kind="success" text={o.saved && Object.hasOwn(SAVED, o.saved) ? SAVED[o.saved] : undefined} />
          <Notice kind="error" text={o.error} />
          <Notice
            kind="info"
            text={
              recentSignIn(d, auth)
                ? undefined
                : 'You signed in a while ago: saving will first ask you to sign in again, then bring you back here.'
            }
          />
          <form method="post" action={action} class="card" novalidate>
            <h2>Name, colours and support</h2>
            <Field name="displayName" label="Display name" value={v.displayName ?? ''} maxlength={100} />
            <Field
              name="primaryColor"
              label="Primary colour"
              value={v.primaryColor ?? ''}
              maxlength={7}
              hint="Like #1f5fbf. Buttons and links; it must reach a contrast of 4.5:1 against white."
            />
            <Field
              name="primaryColorDark"
              label="Primary colour in dark mode"
              value={v.primaryColorDark ?? ''}
              maxlength={7}
              hint="Like #79b8ff. It must reach 4.5:1 against the dark background."
            />
            <Field
              name="supportContact"
              label="Support contact"
              value={v.supportContact ?? ''}
              maxlength={200}
              required={false}
              hint="Shown in mails, e.g. “the Acme help desk”. Empty: the install's."
            />
            <Field
              name="supportUrl"
              label="Support page"
              type="url"
              value={v.supportUrl ?? ''}
              maxlength={500}
              required={false}
              hint="An https:// address. Empty: the install's."
            />
            <button type="submit" class="primary">
              Save brand
            </button>
          </form>
          <section class="card" aria-labelledby="logo-h">
            <h2 id="logo-h">Logo</h2>
            {view.logoUrl ? (
              <p>
                <img src={view.logoUrl} alt={`Current logo of ${view.displayName}`} height="48" />
              </p>
            ) : (
              <p>No logo yet.</p>
            )}
            <form
              data-logo-upload={`/api/v1/organizations/${encodeURIComponent(slug)}/logo`}
              data-done={`${action}&saved=logo`}
            >
              <div class="field">
                <label for="f-logo">Logo image</label>
                <input
                  id="f-logo"
                  name="logo"
                  type="file"
                  accept="image/png,image/jpeg,image/webp"
                  aria-describedby="f-logo-hint"
                />
                <p class="hint" id="f-logo-hint">
                  {`PNG, JPEG or WebP, at most ${LOGO_MAX_BYTES / 1024} KB. SVG is refused (it can carry scripts). Uploading needs JavaScript; without it, use PUT /api/v1/organizations/{slug}/logo.`}
                </p>
              </div>
              <p class="notice error" role="alert" data-logo-error hidden></p>
              <button type="submit">Upload logo</button>
            </form>
            {view.logoUrl ? (
              <form method="post" action={`/admin/organization/brand/logo/remove?org=${encodeURIComponent(slug)}`}>
                <button type="submit">Remove logo</button>
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
        title: 'Not allowed',
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
