import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { Html } from '../../web/layout.tsx';
import { authOf, contextOf, field } from '../../web/request.ts';
import type { SessionService } from '../sessions/service.ts';
import { ACTIONS, CHECK_MAX, isStaffAction, type StaffAction, type StaffActions } from './actions.ts';
import { type AuditFilterInput, type AuditTrail, CSV_COLUMNS, csvLine } from './audit-trail.ts';
import { answerConsoleError, type ConsoleDeps, ConsolePage, consoleViewer, sendHtml } from './console.tsx';
import type { AccountDetail, AccountDirectory, AccountSummary, AuditView } from './directory.ts';
import type { Viewer } from './guard.ts';
import { REASON_MAX } from './guard.ts';

/** What the console's account and audit pages use of the container the composition root builds. */
export type StaffPagesDeps = ConsoleDeps &
  Pick<Kernel, 'audit'> & {
    sessions: Pick<SessionService, 'requireRecentAuth'>;
    staffDirectory: AccountDirectory;
    staffActions: StaffActions;
    auditTrail: AuditTrail;
  };

void Html;

const ACTION_LABEL: Record<StaffAction, string> = {
  reset: 'staff.action.reset',
  end_sessions: 'staff.action.end_sessions',
  unlock: 'staff.action.unlock',
  resend_activation: 'staff.action.resend_activation',
  clear_flag: 'staff.action.clear_flag',
  disable: 'staff.action.disable',
  enable: 'staff.action.enable',
  remove_second_factors: 'staff.action.remove_second_factors',
};

const DONE: Record<string, string> = {
  reset: 'staff.done.reset',
  end_sessions: 'staff.done.end_sessions',
  unlock: 'staff.done.unlock',
  resend_activation: 'staff.done.resend_activation',
  clear_flag: 'staff.done.clear_flag',
  disable: 'staff.done.disable',
  enable: 'staff.done.enable',
  remove_second_factors: 'staff.done.remove_second_factors',
};

/** An account's status as staff read it: active, pending, disabled, deleted. */
const STATUS: Record<string, string> = {
  active: 'staff.status.active',
  pending: 'staff.status.pending',
  disabled: 'staff.status.disabled',
  deleted: 'staff.status.deleted',
};

export const statusLabel = (s: string): string => (Object.hasOwn(STATUS, s) ? t(STATUS[s] as string) : s);

const q = (req: FastifyRequest, name: string, max = 320): string => {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
};

function SearchForm(p: { q: string; exact: boolean }): JSX.Element {
  return (
    <form method="get" action="/admin/accounts" class="card console-form">
      <div class="field">
        <label for="f-q">{th('staff.search.label')}</label>
        <input id="f-q" name="q" type="search" value={p.q} maxlength={320} autocomplete="off" />
      </div>
      <div class="field check">
        <input type="checkbox" id="f-exact" name="exact" value="1" checked={p.exact} />
        <label for="f-exact">{th('staff.search.exact')}</label>
      </div>
      <button type="submit" class="primary">
        {th('staff.search.submit')}
      </button>
    </form>
  );
}

function Results(p: { rows: AccountSummary[] }): JSX.Element {
  if (!p.rows.length) return <p role="status">{th('staff.search.none')}</p>;
  return (
    <div class="table-wrap">
      <table class="console">
        <caption class="hint" safe>
          {t('staff.search.count', { count: p.rows.length })}
        </caption>
        <thead>
          <tr>
            <th scope="col">{th('staff.col.username')}</th>
            <th scope="col">{th('staff.col.email')}</th>
            <th scope="col">{th('staff.col.phone')}</th>
            <th scope="col">{th('staff.col.status')}</th>
            <th scope="col">{th('staff.col.matched')}</th>
          </tr>
        </thead>
        <tbody>
          {p.rows.map((r) => (
            <tr>
              <td>
                <a href={`/admin/accounts/${encodeURIComponent(r.id)}`} safe>
                  {r.username}
                </a>
                {r.staff ? th('staff.search.is_staff') : ''}
              </td>
              <td safe>{r.email ?? ''}</td>
              <td safe>{r.phone ?? ''}</td>
              <td safe>
                {r.flagged ? t('staff.status_flagged', { status: statusLabel(r.status) }) : statusLabel(r.status)}
              </td>
              <td safe>{r.match}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function detailsText(r: AuditView): string {
  return r.details ? JSON.stringify(r.details) : '';
}

export function AuditTable(p: { rows: AuditView[]; caption: string }): JSX.Element {
  if (!p.rows.length) return <p>{th('staff.audit.none')}</p>;
  return (
    <div class="table-wrap">
      <table class="console">
        <caption class="hint" safe>
          {p.caption}
        </caption>
        <thead>
          <tr>
            <th scope="col">{th('staff.col.when')}</th>
            <th scope="col">{th('staff.col.event')}</th>
            <th scope="col">{th('staff.col.actor')}</th>
            <th scope="col">{th('staff.col.from')}</th>
            <th scope="col">{th('staff.col.details')}</th>
          </tr>
        </thead>
        <tbody>
          {p.rows.map((r) => (
            <tr>
              <td safe>{r.at.replace('T', ' ').slice(0, 19)}</td>
              <td safe>{r.event}</td>
              <td safe>{r.actor ?? r.actorId ?? ''}</td>
              <td safe>{r.ip ?? ''}</td>
              <td safe>{detailsText(r)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Facts(p: { a: AccountDetail }): JSX.Element {
  const a = p.a;
  const phone: string = a.phone
    ? a.phoneVerified
      ? t('staff.facts.phone_verified', { phone: a.phone })
      : a.phone
    : '—';
  const password: string = a.hasPassword
    ? a.passwordChangedAt
      ? t('staff.facts.password_changed', { at: a.passwordChangedAt })
      : t('staff.facts.password_set')
    : t('staff.facts.none');
  const flag: string = a.flag ? `${a.flag.at}: ${a.flag.reason ?? ''}` : t('staff.facts.none');
  return (
    <section class="card" aria-labelledby="facts-h">
      <h2 id="facts-h">{th('staff.facts.title')}</h2>
      <dl>
        <dt>{th('staff.col.username')}</dt>
        <dd safe>{a.username}</dd>
        <dt>{th('staff.col.email')}</dt>
        <dd safe>{a.email ?? '—'}</dd>
        <dt>{th('staff.col.phone')}</dt>
        <dd safe>{phone}</dd>
        <dt>{th('staff.col.status')}</dt>
        <dd safe>{a.locked ? t('staff.status_locked', { status: statusLabel(a.status) }) : statusLabel(a.status)}</dd>
        <dt>{th('staff.facts.created')}</dt>
        <dd safe>{a.createdAt}</dd>
        <dt>{th('staff.facts.last_sign_in')}</dt>
        <dd safe>{a.lastSignInAt ?? t('staff.facts.never')}</dd>
        <dt>{th('staff.facts.password')}</dt>
        <dd safe>{password}</dd>
        <dt>{th('staff.facts.organization')}</dt>
        <dd safe>{`${a.organization.name} (${a.organization.slug})`}</dd>
        <dt>{th('staff.facts.roles')}</dt>
        <dd safe>
          {[
            a.staffRole ? t('staff.facts.staff_role', { role: a.staffRole }) : '',
            ...a.organizationRoles.map((r) => t('staff.facts.org_role', { role: r.role, slug: r.slug })),
          ]
            .filter(Boolean)
            .join('; ') || t('staff.facts.member')}
        </dd>
        <dt>{th('staff.facts.flag')}</dt>
        <dd safe>{flag}</dd>
      </dl>
    </section>
  );
}

function ListSection(p: { id: string; title: string; empty: string; items: string[] }): JSX.Element {
  return (
    <section class="card" aria-labelledby={`${p.id}-h`}>
      <h2 id={`${p.id}-h`} safe>
        {p.title}
      </h2>
      {p.items.length ? (
        <ul class="sessions">
          {p.items.map((i) => (
            <li safe>{i}</li>
          ))}
        </ul>
      ) : (
        <p safe>{p.empty}</p>
      )}
    </section>
  );
}

function ActionForm(p: {
  d: StaffPagesDeps;
  v: Viewer;
  a: AccountDetail;
  orgId: string;
  recent: boolean;
}): JSX.Element {
  const allowed = (Object.keys(ACTIONS) as StaffAction[]).filter((k) =>
    p.d.staffGuard.can(p.v, ACTIONS[k].cap, p.orgId),
  );
  return (
    <form method="post" action={`/admin/accounts/${encodeURIComponent(p.a.id)}/act`} class="card actions console-form">
      <h2>{th('staff.act.title')}</h2>
      {p.recent ? (
        ''
      ) : (
        <p class="notice info" role="status">
          {th('staff.act.stale')}
        </p>
      )}
      <div class="field">
        <label for="f-action">{th('staff.act.action')}</label>
        <select id="f-action" name="action">
          {allowed.map((k) => (
            <option value={k} safe>
              {t(ACTION_LABEL[k])}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-session">{th('staff.act.session')}</label>
        <select id="f-session" name="session">
          <option value="">{th('staff.act.all_sessions')}</option>
          {p.a.sessions.map((s) => (
            <option value={s.handle} safe>
              {t('staff.act.session_option', {
                method: s.method,
                ip: s.ip ?? t('staff.unknown_address'),
                seen: s.lastSeenAt,
              })}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-reason">{th('staff.act.reason')}</label>
        <textarea id="f-reason" name="reason" required minlength={8} maxlength={REASON_MAX} />
      </div>
      <div class="field">
        <label for="f-check">{th('staff.act.check')}</label>
        <textarea id="f-check" name="identityCheck" maxlength={CHECK_MAX} aria-describedby="f-check-hint" />
        <p class="hint" id="f-check-hint">
          {th('staff.act.check_hint')}
        </p>
      </div>
      <button type="submit" class="primary">
        {th('staff.act.submit')}
      </button>
      <p class="hint">{th('staff.act.told')}</p>
    </form>
  );
}

async function renderAccount(
  d: StaffPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  v: Viewer,
  id: string,
  o: { flash?: string; error?: string; status?: number } = {},
) {
  const ctx = contextOf(req);
  const account = await d.staffGuard.account(v, id, 'read', ctx, 'accounts.read');
  const a = await d.staffDirectory.detail(account, ctx);
  let recent = true;
  try {
    d.sessions.requireRecentAuth(v.auth.session);
  } catch {
    recent = false;
  }
  return sendHtml(
    reply,
    o.status ?? 200,
    ConsolePage(d, {
      title: t('staff.account.title', { username: a.username }),
      section: 'accounts',
      viewer: v,
      flash: o.flash,
      error: o.error,
      children: (
        <>
          <Facts a={a} />
          <ActionForm d={d} v={v} a={a} orgId={account.org_id} recent={recent} />
          <ListSection
            id="pending"
            title={t('staff.pending.title')}
            empty={t('staff.pending.empty')}
            items={a.pendingResets.map((r) => t('staff.pending.item', { method: r.method, at: r.expiresAt }))}
          />
          <ListSection
            id="sessions"
            title={t('staff.sessions.title')}
            empty={t('staff.sessions.empty')}
            items={a.sessions.map((s) =>
              t('staff.sessions.item', {
                method: s.method,
                ip: s.ip ?? t('staff.unknown_address'),
                browser: s.userAgent?.slice(0, 80) ?? t('staff.unknown_browser'),
                since: s.createdAt,
                seen: s.lastSeenAt,
                ends: s.expiresAt,
              }),
            )}
          />
          <ListSection
            id="factors"
            title={t('staff.factors.title')}
            empty={t('staff.factors.empty')}
            items={[
              ...a.secondFactors.map(
                (f) =>
                  t('staff.factors.item', { kind: f.kind, name: f.name, at: f.createdAt }) +
                  (f.confirmed ? '' : t('staff.factors.unconfirmed')) +
                  (f.lastUsedAt ? t('staff.factors.last_used', { at: f.lastUsedAt }) : '') +
                  (f.flaggedAt ? t('staff.factors.counter', { at: f.flaggedAt }) : ''),
              ),
              ...(a.recoveryCodesLeft ? [t('staff.factors.recovery_codes', { count: a.recoveryCodesLeft })] : []),
            ]}
          />
          <ListSection
            id="identities"
            title={t('staff.identities.title')}
            empty={t('staff.identities.empty')}
            items={a.identities.map(
              (i) =>
                t('staff.identities.item', {
                  provider: i.provider,
                  who: i.email ?? i.displayName ?? '',
                  at: i.linkedAt,
                }) + (i.lastUsedAt ? t('staff.factors.last_used', { at: i.lastUsedAt }) : ''),
            )}
          />
          <section class="card" aria-labelledby="audit-h">
            <h2 id="audit-h">{th('staff.account.audit')}</h2>
            <AuditTable rows={a.audit} caption={t('staff.account.audit_caption')} />
          </section>
        </>
      ),
    }),
  );
}

function auditInput(req: FastifyRequest): AuditFilterInput {
  return {
    account: q(req, 'account'),
    actor: q(req, 'actor'),
    event: q(req, 'event', 80),
    from: q(req, 'from', 40),
    to: q(req, 'to', 40),
  };
}

function AuditFilters(p: { f: AuditFilterInput }): JSX.Element {
  const input = (name: keyof AuditFilterInput, label: string, hint?: string) => (
    <div class="field">
      <label for={`f-${name}`} safe>
        {label}
      </label>
      <input
        id={`f-${name}`}
        name={name}
        value={p.f[name] ?? ''}
        maxlength={320}
        aria-describedby={hint ? `f-${name}-hint` : undefined}
      />
      {hint ? (
        <p class="hint" id={`f-${name}-hint`} safe>
          {hint}
        </p>
      ) : (
        ''
      )}
    </div>
  );
  return (
    <form method="get" action="/admin/audit" class="card console-form">
      {input('account', t('staff.audit.account'))}
      {input('actor', t('staff.audit.actor'))}
      {input('event', t('staff.col.event'), t('staff.audit.event_hint'))}
      {input('from', t('staff.col.from'), t('staff.audit.from_hint'))}
      {input('to', t('staff.audit.to'))}
      <button type="submit" class="primary">
        {th('staff.audit.filter')}
      </button>
    </form>
  );
}

function exportQuery(f: AuditFilterInput, format: string): string {
  const p = new URLSearchParams({ format });
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  return `/admin/audit/export?${p.toString()}`;
}

/** Streams the export: JSON lines or CSV, a batch of rows in memory at a time. */
export function exportStream(
  trail: AuditTrail,
  filter: Awaited<ReturnType<AuditTrail['filter']>>,
  format: 'jsonl' | 'csv',
): Readable {
  async function* lines() {
    if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`;
    for await (const row of trail.all(filter)) yield format === 'csv' ? csvLine(row) : `${JSON.stringify(row)}\n`;
  }
  return Readable.from(lines());
}

export function registerStaffPages(app: FastifyInstance, d: StaffPagesDeps): void {
  app.get('/admin/accounts', { schema: { hide: true } }, async (req, reply) => {
    const v = await consoleViewer(d, req, reply, 'read', 'accounts.search');
    if (!v) return reply;
    const text = q(req, 'q');
    const exact = q(req, 'exact') === '1';
    let rows: AccountSummary[] | undefined;
    let error: string | undefined;
    try {
      rows = text.trim() ? await d.staffDirectory.search(v, text, exact) : undefined;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      error = pageMessage(err);
    }
    return sendHtml(
      reply,
      error ? 400 : 200,
      ConsolePage(d, {
        title: t('staff.nav.accounts'),
        section: 'accounts',
        viewer: v,
        error,
        children: (
          <>
            <SearchForm q={text} exact={exact} />
            {rows ? <Results rows={rows} /> : ''}
          </>
        ),
      }),
    );
  });

  app.get('/admin/accounts/:id', { schema: { hide: true } }, async (req, reply) => {
    const v = await consoleViewer(d, req, reply, 'read', 'accounts.read');
    if (!v) return reply;
    const id = String((req.params as { id?: string }).id ?? '');
    const done = q(req, 'done', 40);
    try {
      return await renderAccount(d, req, reply, v, id, {
        flash: Object.hasOwn(DONE, done) ? t(DONE[done] as string) : undefined,
      });
    } catch (err) {
      return answerConsoleError(d, req, reply, err, req.url);
    }
  });

  app.post('/admin/accounts/:id/act', { schema: { hide: true } }, async (req, reply) => {
    const id = String((req.params as { id?: string }).id ?? '').slice(0, 64);
    const back = `/admin/accounts/${encodeURIComponent(id)}`;
    const action = field(req.body, 'action', 40);
    const ctx = contextOf(req);
    let viewer: Viewer | undefined;
    try {
      if (!isStaffAction(action)) {
        viewer = await d.staffGuard.require(await authOf(d, req), 'read', ctx, 'accounts.act');
        throw new AppError('validation_failed', t('staff.act.choose'));
      }
      const cap = ACTIONS[action].cap;
      const g = await d.staffGuard.requireAction(
        await authOf(d, req),
        cap,
        ctx,
        `accounts.${action}`,
        field(req.body, 'reason', 2000),
      );
      viewer = g.viewer;
      const account = await d.staffGuard.account(g.viewer, id, cap, ctx, `accounts.${action}`);
      await d.staffActions.run(
        g.viewer,
        account,
        action,
        {
          reason: g.reason,
          session: field(req.body, 'session', 64) || undefined,
          identityCheck: field(req.body, 'identityCheck', 2000),
        },
        ctx,
      );
      return reply.redirect(`${back}?done=${action}`, 303);
    } catch (err) {
      // A wrong or refused action on an account the viewer may see: the page again, with the error.
      if (viewer && err instanceof AppError && ['validation_failed', 'conflict', 'not_found'].includes(err.code))
        try {
          return await renderAccount(d, req, reply, viewer, id, { error: pageMessage(err), status: err.status });
        } catch (again) {
          return answerConsoleError(d, req, reply, again, back);
        }
      return answerConsoleError(d, req, reply, err, back);
    }
  });

  app.get('/admin/audit', { schema: { hide: true } }, async (req, reply) => {
    const v = await consoleViewer(d, req, reply, 'audit', 'audit.read');
    if (!v) return reply;
    const input = auditInput(req);
    let page: Awaited<ReturnType<AuditTrail['page']>> | undefined;
    let error: string | undefined;
    try {
      page = await d.auditTrail.page(await d.auditTrail.filter(input), q(req, 'cursor', 100) || undefined);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      error = pageMessage(err);
    }
    const nextParams = new URLSearchParams();
    for (const [k, val] of Object.entries(input)) if (val) nextParams.set(k, val);
    if (page?.next) nextParams.set('cursor', page.next);
    return sendHtml(
      reply,
      error ? 400 : 200,
      ConsolePage(d, {
        title: t('staff.audit.title'),
        section: 'audit',
        viewer: v,
        error,
        children: (
          <>
            <AuditFilters f={input} />
            <p class="links">
              <a href={exportQuery(input, 'jsonl')}>{th('staff.audit.export_jsonl')}</a>
              <a href={exportQuery(input, 'csv')}>{th('staff.audit.export_csv')}</a>
            </p>
            {page ? <AuditTable rows={page.rows} caption={t('staff.audit.newest_first')} /> : ''}
            {page?.next ? (
              <p>
                <a href={`/admin/audit?${nextParams.toString()}`}>{th('staff.audit.older')}</a>
              </p>
            ) : (
              ''
            )}
          </>
        ),
      }),
    );
  });

  app.get('/admin/audit/export', { schema: { hide: true } }, async (req, reply) => {
    const v = await consoleViewer(d, req, reply, 'audit', 'audit.export');
    if (!v) return reply;
    const format = q(req, 'format', 10) === 'csv' ? 'csv' : 'jsonl';
    try {
      const filter = await d.auditTrail.filter(auditInput(req));
      return sendAuditExport(d, req, reply, v, filter, format);
    } catch (err) {
      return answerConsoleError(d, req, reply, err, '/admin/audit');
    }
  });
}

/** The export's answer (pages and API): audited, streamed, never cached. */
export async function sendAuditExport(
  d: Pick<StaffPagesDeps, 'auditTrail' | 'audit'>,
  req: FastifyRequest,
  reply: FastifyReply,
  v: Viewer,
  filter: Awaited<ReturnType<AuditTrail['filter']>>,
  format: 'jsonl' | 'csv',
): Promise<FastifyReply> {
  await d.audit.record('staff.audit_exported', contextOf(req), { actorId: v.auth.account.id, details: { format } });
  return reply
    .header('cache-control', 'no-store')
    .header('content-disposition', `attachment; filename="audit.${format === 'csv' ? 'csv' : 'jsonl'}"`)
    .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
    .send(exportStream(d.auditTrail, filter, format));
}
