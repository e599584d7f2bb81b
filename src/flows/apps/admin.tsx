import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/translate.ts';
import type { Kernel } from '../../kernel.ts';
import { Html } from '../../web/layout.tsx';
import { authOf, contextOf, field } from '../../web/request.ts';
import { responses, Str } from '../../web/schemas.ts';
import { type AdminApiDeps, apiAction, apiViewer } from '../staff/api-guard.ts';
import { answerConsoleError, type ConsoleDeps, ConsolePage, consoleViewer, sendHtml } from '../staff/console.tsx';
import type { Viewer } from '../staff/guard.ts';
import type { ClientInput, ClientView } from './clients.ts';
import type { AppsService } from './service.ts';

void Html;

/** What this module uses of the container the composition root builds. */
export type AdminClientsDeps = ConsoleDeps & AdminApiDeps & Pick<Kernel, 'audit'> & { apps: AppsService };

const GUARD_NOTE =
  'Admin staff only (capability `manage`); others get 403, audited (ADM-05). Changes need a written `reason` and a recent sign-in with a second factor (ADM-07).';

const ClientItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  public: Type.Boolean(),
  firstParty: Type.Boolean(),
  redirectUris: Type.Array(Type.String()),
  postLogoutRedirectUris: Type.Array(Type.String()),
  backchannelLogoutUri: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.Integer(),
});
const Uris = Type.Array(Str(2000), { maxItems: 20 });
const ClientBody = {
  name: Str(100, { minLength: 1 }),
  redirectUris: Uris,
  firstParty: Type.Optional(Type.Boolean()),
  backchannelLogoutUri: Type.Optional(Type.Union([Str(2000), Type.Null()])),
  postLogoutRedirectUris: Type.Optional(Uris),
  reason: Str(2000, { description: 'why; kept in the audit trail' }),
};

const lines = (v: string) =>
  v
    .split(/\s+/)
    .map((s) => s.trim())
    .filter(Boolean)
    .slice(0, 20);

/** The client fields of an admin form. */
function formInput(body: unknown): ClientInput {
  return {
    name: field(body, 'name', 100),
    redirectUris: lines(field(body, 'redirectUris', 20000)),
    postLogoutRedirectUris: lines(field(body, 'postLogoutRedirectUris', 20000)),
    backchannelLogoutUri: field(body, 'backchannelLogoutUri', 2000) || null,
    firstParty: field(body, 'firstParty', 10) === 'on',
    public: field(body, 'public', 10) === 'on',
  };
}

function ClientFields(p: { c?: ClientView }) {
  return (
    <>
      <label>
        {th('apps.admin.name')}
        <input name="name" required maxlength="100" value={p.c?.name ?? ''} />
      </label>
      <label>
        {th('apps.admin.redirect_uris')}
        <textarea name="redirectUris" rows="2" required safe>
          {(p.c?.redirectUris ?? []).join('\n')}
        </textarea>
      </label>
      <label>
        {th('apps.admin.post_logout_uris')}
        <textarea name="postLogoutRedirectUris" rows="1" safe>
          {(p.c?.postLogoutRedirectUris ?? []).join('\n')}
        </textarea>
      </label>
      <label>
        {th('apps.admin.backchannel_uri')}
        <input name="backchannelLogoutUri" maxlength="2000" value={p.c?.backchannelLogoutUri ?? ''} />
      </label>
      <label class="check">
        <input type="checkbox" name="firstParty" checked={p.c?.firstParty ?? false} /> {th('apps.admin.first_party')}
      </label>
      <label>
        {th('apps.admin.reason')}
        <input name="reason" required minlength="8" maxlength="500" />
      </label>
    </>
  );
}

export function registerAdminClients(app: FastifyInstance, d: AdminClientsDeps): void {
  async function render(
    reply: FastifyReply,
    viewer: Viewer,
    o: { status?: number; error?: string; flash?: string; secret?: { id: string; secret: string } } = {},
  ) {
    const clients = await d.apps.clients.list();
    return sendHtml(
      reply,
      o.status ?? 200,
      ConsolePage(d, {
        title: t('apps.admin.title'),
        section: 'clients',
        viewer,
        error: o.error,
        flash: o.flash,
        children: (
          <>
            {o.secret ? (
              <section class="card" aria-labelledby="secret-h">
                <h2 id="secret-h">{th('apps.admin.secret_heading')}</h2>
                <p>{th('apps.admin.secret_once', { id: o.secret.id, code: (s) => `<code>${s}</code>` })}</p>
                <p>
                  <code data-client-secret safe>
                    {o.secret.secret}
                  </code>
                </p>
              </section>
            ) : (
              ''
            )}
            <p class="hint">{th('apps.admin.issuer', { issuer: d.apps.issuer, code: (s) => `<code>${s}</code>` })}</p>
            {clients.map((c) => (
              <section class="card" aria-label={t('apps.admin.client_label', { name: c.name })}>
                <h2 safe>{c.name}</h2>
                <p>
                  <code safe>{c.id}</code> · {c.public ? th('apps.admin.public') : th('apps.admin.confidential')}
                  {c.firstParty ? <> · {th('apps.admin.first_party_mark')}</> : ''}
                </p>
                <details>
                  <summary>{th('apps.admin.edit_summary')}</summary>
                  <form method="post" action={`/admin/clients/${encodeURIComponent(c.id)}`}>
                    <ClientFields c={c} />
                    <button type="submit" name="action" value="save" class="primary">
                      {th('apps.admin.save')}
                    </button>{' '}
                    {c.public ? (
                      ''
                    ) : (
                      <button type="submit" name="action" value="rotate_secret">
                        {th('apps.admin.rotate')}
                      </button>
                    )}{' '}
                    <button type="submit" name="action" value="remove">
                      {th('apps.admin.remove')}
                    </button>
                  </form>
                </details>
              </section>
            ))}
            <section class="card" aria-labelledby="add-h">
              <h2 id="add-h">{th('apps.admin.add_heading')}</h2>
              <form method="post" action="/admin/clients">
                <ClientFields />
                <label class="check">
                  <input type="checkbox" name="public" /> {th('apps.admin.public_client')}
                </label>
                <button type="submit" class="primary">
                  {th('apps.admin.add')}
                </button>
              </form>
            </section>
          </>
        ),
      }),
    );
  }

  app.get('/admin/clients', { schema: { hide: true } }, async (req, reply) => {
    const v = await consoleViewer(d, req, reply, 'manage', 'clients.list');
    if (!v) return reply;
    return render(reply, v);
  });

  async function act(req: FastifyRequest, reply: FastifyReply, action: string, run: (v: Viewer) => Promise<unknown>) {
    const ctx = contextOf(req);
    let viewer: Viewer | undefined;
    try {
      const g = await d.staffGuard.requireAction(
        await authOf(d, req),
        'manage',
        ctx,
        `clients.${action}`,
        field(req.body, 'reason', 2000),
      );
      viewer = g.viewer;
      const out = await run(g.viewer);
      await d.audit.record('admin.clients', ctx, {
        actorId: g.viewer.auth.account.id,
        details: {
          action,
          reason: g.reason,
          client: typeof out === 'object' && out && 'id' in out ? String(out.id) : null,
        },
      });
      return out;
    } catch (err) {
      if (viewer && err instanceof AppError && ['validation_failed', 'not_found'].includes(err.code)) {
        await render(reply, viewer, { status: err.status, error: pageMessage(err) });
        return undefined;
      }
      await answerConsoleError(d, req, reply, err, '/admin/clients');
      return undefined;
    }
  }

  app.post('/admin/clients', { schema: { hide: true } }, async (req, reply) => {
    let viewer: Viewer | undefined;
    const out = (await act(req, reply, 'add', async (v) => {
      viewer = v;
      const r = await d.apps.clients.add(formInput(req.body));
      return { id: r.client.id, secret: r.secret };
    })) as { id: string; secret?: string } | undefined;
    if (!out || !viewer) return reply;
    if (!out.secret) return reply.redirect('/admin/clients?done=added', 303);
    return render(reply, viewer, { secret: { id: out.id, secret: out.secret }, flash: t('apps.admin.added') });
  });

  app.post('/admin/clients/:id', { schema: { hide: true } }, async (req, reply) => {
    const id = String((req.params as { id?: string }).id ?? '').slice(0, 64);
    const action = field(req.body, 'action', 20);
    let viewer: Viewer | undefined;
    const out = (await act(req, reply, action || 'save', async (v) => {
      viewer = v;
      if (action === 'rotate_secret') return { id, secret: await d.apps.clients.rotateSecret(id) };
      if (action === 'remove') {
        await d.apps.clients.remove(id);
        return { id };
      }
      if (action !== 'save') throw new AppError('validation_failed', t('apps.admin.choose_action'));
      const { public: _p, ...input } = formInput(req.body);
      await d.apps.clients.edit(id, input);
      return { id };
    })) as { id: string; secret?: string } | undefined;
    if (!out || !viewer) return reply;
    if (out.secret)
      return render(reply, viewer, {
        secret: { id, secret: out.secret },
        flash: t('apps.admin.rotated'),
      });
    return reply.redirect('/admin/clients?done=saved', 303);
  });

  // --- JSON API

  app.get(
    '/api/v1/admin/clients',
    {
      schema: {
        tags: ['admin'],
        summary: 'The registered OpenID Provider clients',
        description: `Every app that signs in through Latchkey, without secrets. ${GUARD_NOTE}`,
        response: responses({ 200: Type.Object({ clients: Type.Array(ClientItem) }) }, [401, 403]),
      },
    },
    async (req) => {
      await apiViewer(d, req, 'manage', 'clients.list');
      return { clients: await d.apps.clients.list() };
    },
  );

  async function apiAudit(req: FastifyRequest, viewer: Viewer, action: string, reason: string, client: string) {
    await d.audit.record('admin.clients', contextOf(req), {
      actorId: viewer.auth.account.id,
      details: { action, reason, client },
    });
  }

  app.post(
    '/api/v1/admin/clients',
    {
      schema: {
        tags: ['admin'],
        summary: 'Register an OpenID Provider client',
        description: `Answers the client and, for a confidential client, its secret: the only time it is shown. ${GUARD_NOTE}`,
        body: Type.Object({ ...ClientBody, public: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: responses(
          { 201: Type.Object({ client: ClientItem, secret: Type.Optional(Type.String()) }) },
          [400, 401, 403],
        ),
      },
    },
    async (req, reply) => {
      const body = req.body as ClientInput & { reason: string };
      const { viewer, reason } = await apiAction(d, req, 'manage', 'clients.add', body.reason);
      const r = await d.apps.clients.add(body);
      await apiAudit(req, viewer, 'add', reason, r.client.id);
      return reply.status(201).send(r);
    },
  );

  app.post(
    '/api/v1/admin/clients/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Edit an OpenID Provider client',
        description: `Replaces the given fields. ${GUARD_NOTE}`,
        params: Type.Object({ id: Str(64, { minLength: 1 }) }),
        body: Type.Object(
          {
            ...ClientBody,
            name: Type.Optional(ClientBody.name),
            redirectUris: Type.Optional(Uris),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ client: ClientItem }) }, [400, 401, 403, 404]),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { reason: raw, ...input } = req.body as Partial<ClientInput> & { reason: string };
      const { viewer, reason } = await apiAction(d, req, 'manage', 'clients.save', raw);
      const client = await d.apps.clients.edit(id, input);
      await apiAudit(req, viewer, 'save', reason, id);
      return { client };
    },
  );

  app.post(
    '/api/v1/admin/clients/:id/actions/:action',
    {
      schema: {
        tags: ['admin'],
        summary: 'Rotate the secret of, or remove, an OpenID Provider client',
        description: `\`rotate_secret\` answers the new secret (shown once; the old one stops working at once); \`remove\` deletes the client and every grant and token issued to it. ${GUARD_NOTE}`,
        params: Type.Object({
          id: Str(64, { minLength: 1 }),
          action: Type.Union([Type.Literal('rotate_secret'), Type.Literal('remove')]),
        }),
        body: Type.Object({ reason: ClientBody.reason }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ secret: Type.Optional(Type.String()) }) }, [400, 401, 403, 404]),
      },
    },
    async (req) => {
      const { id, action } = req.params as { id: string; action: 'rotate_secret' | 'remove' };
      const { viewer, reason } = await apiAction(
        d,
        req,
        'manage',
        `clients.${action}`,
        (req.body as { reason: string }).reason,
      );
      let secret: string | undefined;
      if (action === 'rotate_secret') secret = await d.apps.clients.rotateSecret(id);
      else await d.apps.clients.remove(id);
      await apiAudit(req, viewer, action, reason, id);
      return secret ? { secret } : {};
    },
  );
}
