import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
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
  reset: 'Send a password reset (link and code, by the account’s own methods)',
  end_sessions: 'End sessions',
  unlock: 'Unlock sign-in',
  resend_activation: 'Resend the activation mail',
  clear_flag: 'Clear the review flag',
  disable: 'Disable the account (ends every session)',
  enable: 'Enable the account',
  remove_second_factors: 'Remove second factors (after an identity check)',
};

const DONE: Record<string, string> = {
  reset: 'A reset was sent to the account’s own addresses; when it expires is shown under “Pending resets”.',
  end_sessions: 'Sessions ended.',
  unlock: 'Sign-in failures cleared.',
  resend_activation: 'A new activation mail was sent.',
  clear_flag: 'The flag was cleared.',
  disable: 'The account was disabled and signed out everywhere.',
  enable: 'The account was enabled.',
  remove_second_factors: 'Second factors and recovery codes were removed; the identity check is in the audit trail.',
};

const q = (req: FastifyRequest, name: string, max = 320): string => {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
};

function SearchForm(p: { q: string; exact: boolean }): JSX.Element {
  return (
    <form method="get" action="/admin/accounts" class="card console-form">
      <div class="field">
        <label for="f-q">Username, email or phone</label>
        <input id="f-q" name="q" type="search" value={p.q} maxlength={320} autocomplete="off" />
      </div>
      <div class="field check">
        <input type="checkbox" id="f-exact" name="exact" value="1" checked={p.exact} />
        <label for="f-exact">Exact match only</label>
      </div>
      <button type="submit" class="primary">
        Search
      </button>
    </form>
  );
}

function Results(p: { rows: AccountSummary[] }): JSX.Element {
  if (!p.rows.length) return <p role="status">No accounts match.</p>;
  return (
    <div class="table-wrap">
      <table class="console">
        <caption class="hint" safe>{`${p.rows.length} account(s)`}</caption>
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Email</th>
            <th scope="col">Phone</th>
            <th scope="col">Status</th>
            <th scope="col">Matched</th>
          </tr>
        </thead>
        <tbody>
          {p.rows.map((r) => (
            <tr>
              <td>
                <a href={`/admin/accounts/${encodeURIComponent(r.id)}`} safe>
                  {r.username}
                </a>
                {r.staff ? ' (staff)' : ''}
              </td>
              <td safe>{r.email ?? ''}</td>
              <td safe>{r.phone ?? ''}</td>
              <td safe>{`${r.status}${r.flagged ? ', flagged' : ''}`}</td>
              <td safe>{r.match}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AuditTable(p: { rows: AuditView[]; caption: string }): JSX.Element {
  if (!p.rows.length) return <p>No audit records.</p>;
  return (
    <div class="table-wrap">
      <table class="console">
        <caption class="hint" safe>
          {p.caption}
        </caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Event</th>
            <th scope="col">Actor</th>
            <th scope="col">From</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {p.rows.map((r) => (
            <tr>
              <td safe>{r.at.replace('T', ' ').slice(0, 19)}</td>
              <td safe>{r.event}</td>
              <td safe>{r.actor ?? r.actorId ?? ''}</td>
              <td safe>{r.ip ?? ''}</td>
              <td safe>{r.details ? JSON.stringify(r.details) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Facts(p: { a: AccountDetail }): JSX.Element {
  const a = p.a;
  return (
    <section class="card" aria-labelledby="facts-h">
      <h2 id="facts-h">Account</h2>
      <dl>
        <dt>Username</dt>
        <dd safe>{a.username}</dd>
        <dt>Email</dt>
        <dd safe>{a.email ?? '—'}</dd>
        <dt>Phone</dt>
        <dd safe>{a.phone ? `${a.phone}${a.phoneVerified ? ' (verified)' : ''}` : '—'}</dd>
        <dt>Status</dt>
        <dd safe>{`${a.status}${a.locked ? ', sign-in locked' : ''}`}</dd>
        <dt>Created</dt>
        <dd safe>{a.createdAt}</dd>
        <dt>Last sign-in</dt>
        <dd safe>{a.lastSignInAt ?? 'never'}</dd>
        <dt>Password</dt>
        <dd safe>{a.hasPassword ? `set${a.passwordChangedAt ? `, changed ${a.passwordChangedAt}` : ''}` : 'none'}</dd>
        <dt>Organization</dt>
        <dd safe>{`${a.organization.name} (${a.organization.slug})`}</dd>
        <dt>Roles</dt>
        <dd safe>
          {[a.staffRole ? `staff: ${a.staffRole}` : '', ...a.organizationRoles.map((r) => `${r.role} of ${r.slug}`)]
            .filter(Boolean)
            .join('; ') || 'member'}
        </dd>
        <dt>Flag</dt>
        <dd safe>{a.flag ? `${a.flag.at}: ${a.flag.reason ?? ''}` : 'none'}</dd>
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
      <h2>Act on this account</h2>
      {p.recent ? (
        ''
      ) : (
        <p class="notice info" role="status">
          You signed in a while ago: an action will first ask you to sign in again.
        </p>
      )}
      <div class="field">
        <label for="f-action">Action</label>
        <select id="f-action" name="action">
          {allowed.map((k) => (
            <option value={k} safe>
              {ACTION_LABEL[k]}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-session">Session (for “End sessions”)</label>
        <select id="f-session" name="session">
          <option value="">All sessions</option>
          {p.a.sessions.map((s) => (
            <option value={s.handle} safe>
              {`${s.method}, ${s.ip ?? 'unknown address'}, last seen ${s.lastSeenAt}`}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-reason">Reason (kept in the audit trail)</label>
        <textarea id="f-reason" name="reason" required minlength={8} maxlength={REASON_MAX} />
      </div>
      <div class="field">
        <label for="f-check">Identity check made (required to remove second factors)</label>
        <textarea id="f-check" name="identityCheck" maxlength={CHECK_MAX} aria-describedby="f-check-hint" />
        <p class="hint" id="f-check-hint">
          What you checked and how, e.g. “video call, photo ID matched, confirmed the last sign-in city”.
        </p>
      </div>
      <button type="submit" class="primary">
        Do it
      </button>
      <p class="hint">The account’s owner is told by mail what was done, when and by which role.</p>
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
      title: `Account ${a.username}`,
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
            title="Pending resets"
            empty="No live reset link or code."
            items={a.pendingResets.map((r) => `${r.method}: expires ${r.expiresAt}`)}
          />
          <ListSection
            id="sessions"
            title="Sessions"
            empty="No live sessions."
            items={a.sessions.map(
              (s) =>
                `${s.method} from ${s.ip ?? 'unknown address'} (${s.userAgent?.slice(0, 80) ?? 'unknown browser'}), since ${s.createdAt}, last seen ${s.lastSeenAt}, ends ${s.expiresAt}`,
            )}
          />
          <ListSection
            id="factors"
            title="Second factors"
            empty="No second factor."
            items={[
              ...a.secondFactors.map(
                (f) =>
                  `${f.kind}: ${f.name}, added ${f.createdAt}${f.confirmed ? '' : ' (not confirmed)'}${f.lastUsedAt ? `, last used ${f.lastUsedAt}` : ''}${f.flaggedAt ? `, counter went backwards ${f.flaggedAt}` : ''}`,
              ),
              ...(a.recoveryCodesLeft ? [`${a.recoveryCodesLeft} unused recovery codes`] : []),
            ]}
          />
          <ListSection
            id="identities"
            title="Linked accounts"
            empty="No linked external account."
            items={a.identities.map(
              (i) =>
                `${i.provider}: ${i.email ?? i.displayName ?? ''}, linked ${i.linkedAt}${i.lastUsedAt ? `, last used ${i.lastUsedAt}` : ''}`,
            )}
          />
          <section class="card" aria-labelledby="audit-h">
            <h2 id="audit-h">Recent audit trail</h2>
            <AuditTable rows={a.audit} caption="The latest 30 records of this account" />
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
      {input('account', 'Account (username, email or id)')}
      {input('actor', 'Actor (username, email or id)')}
      {input('event', 'Event', 'e.g. sign_in.failed, or staff.* for every staff action')}
      {input('from', 'From', 'e.g. 2026-01-31 or 2026-01-31T12:00:00Z')}
      {input('to', 'To')}
      <button type="submit" class="primary">
        Filter
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
        title: 'Accounts',
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
      return await renderAccount(d, req, reply, v, id, { flash: Object.hasOwn(DONE, done) ? DONE[done] : undefined });
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
        throw new AppError('validation_failed', 'Choose an action.');
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
        title: 'Audit trail',
        section: 'audit',
        viewer: v,
        error,
        children: (
          <>
            <AuditFilters f={input} />
            <p class="links">
              <a href={exportQuery(input, 'jsonl')}>Export as JSON lines</a>
              <a href={exportQuery(input, 'csv')}>Export as CSV</a>
            </p>
            {page ? <AuditTable rows={page.rows} caption="Newest first" /> : ''}
            {page?.next ? (
              <p>
                <a href={`/admin/audit?${nextParams.toString()}`}>Older records</a>
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
