import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatTime } from '../../delivery/templates.ts';
import { AppError, pageMessage } from '../../errors.ts';
import type { Kernel } from '../../kernel.ts';
import { REVIEW_KINDS, REVIEW_OUTCOMES, type ReviewKind } from '../../store/review-items.ts';
import { Html } from '../../web/layout.tsx';
import { authOf, contextOf, field } from '../../web/request.ts';
import {
  answerConsoleError,
  type ConsoleDeps,
  ConsolePage,
  type ConsoleSection,
  consoleViewer,
  sendHtml,
} from '../staff/console.tsx';
import type { Viewer } from '../staff/guard.ts';
import { REASON_MAX } from '../staff/guard.ts';
import { TextArea } from '../support/pages.tsx';
import { MESSAGE_MAX } from '../support/service.ts';
import { AGE_FILTERS, NOTE_MAX, type QueueEntry, type QueueItemDetail, type ReviewService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type ReviewPagesDeps = ConsoleDeps & Pick<Kernel, 'clock'> & { review: ReviewService };

void Html;

const DONE: Record<string, string> = {
  assigned: 'The item is assigned to you.',
  noted: 'Note added.',
  replied: 'Reply sent. It shows on the request’s status page and goes to the contact address.',
  resolved: 'Resolved.',
};

function age(now: number, at: number): string {
  const m = Math.max(0, Math.floor((now - at) / 60_000));
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h` : `${Math.floor(h / 24)} days`;
}

const one = (q: unknown, name: string, max = 64) => {
  const v = (q as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
};

async function renderQueue(
  d: ReviewPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  v: Viewer,
  section: ConsoleSection,
  fixedKind?: ReviewKind,
) {
  const query = {
    kind: fixedKind ?? one(req.query, 'kind', 40),
    org: one(req.query, 'org'),
    age: one(req.query, 'age', 8),
    resolved: one(req.query, 'status', 10) === 'resolved',
  };
  let data: Awaited<ReturnType<ReviewService['list']>>;
  let error: string | undefined;
  try {
    data = await d.review.list(v, query);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    error = pageMessage(err);
    data = await d.review.list(v, { resolved: query.resolved });
  }
  const orgs = await d.review.orgChoices(v);
  const now = d.clock.now();
  const action = section === 'requests' ? '/admin/requests' : '/admin';
  const title = section === 'requests' ? 'Support requests' : 'Review queue';
  return sendHtml(
    reply,
    error ? 400 : 200,
    ConsolePage(d, {
      title,
      section,
      viewer: v,
      error,
      children: (
        <>
          <h2 id="counts-h">Open items</h2>
          <ul class="queue-counts" aria-labelledby="counts-h">
            {(Object.keys(REVIEW_KINDS) as ReviewKind[]).map((k) => (
              <li>
                <a href={`/admin?kind=${k}`}>{REVIEW_KINDS[k]}</a>:{' '}
                <strong data-kind={k} safe>
                  {String(data.counts[k])}
                </strong>
              </li>
            ))}
          </ul>
          <form method="get" action={action} class="filters card" aria-label="Filter the queue">
            {fixedKind ? (
              ''
            ) : (
              <div class="field">
                <label for="q-kind">Kind</label>
                <select id="q-kind" name="kind">
                  <option value="">Any</option>
                  {(Object.keys(REVIEW_KINDS) as ReviewKind[]).map((k) => (
                    <option value={k} selected={query.kind === k}>
                      {REVIEW_KINDS[k]}
                    </option>
                  ))}
                </select>
              </div>
            )}
            <div class="field">
              <label for="q-org">Organization</label>
              <select id="q-org" name="org">
                <option value="">Any</option>
                {orgs.map((o) => (
                  <option value={o.id} selected={query.org === o.id} safe>
                    {o.name}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="q-age">Waiting at least</label>
              <select id="q-age" name="age">
                <option value="">Any time</option>
                {Object.keys(AGE_FILTERS).map((a) => (
                  <option value={a} selected={query.age === a} safe>
                    {a}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="q-status">Status</label>
              <select id="q-status" name="status">
                <option value="open">Open</option>
                <option value="resolved" selected={query.resolved}>
                  Resolved
                </option>
              </select>
            </div>
            <button type="submit">Filter</button>
          </form>
          {data.items.length ? queueTable(data.items, now) : <p>Nothing here. The queue is empty for this filter.</p>}
        </>
      ),
    }),
  );
}

function queueTable(items: QueueEntry[], now: number): JSX.Element {
  return (
    <div class="table-wrap">
      <table class="console">
        <caption class="hint">Oldest first</caption>
        <thead>
          <tr>
            <th scope="col">Waiting</th>
            <th scope="col">Kind</th>
            <th scope="col">Account</th>
            <th scope="col">Why</th>
            <th scope="col">Assigned</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr>
              <td>
                <a href={`/admin/queue/${encodeURIComponent(i.id)}`} safe>
                  {age(now, i.openedAt)}
                </a>
                <br />
                <span class="hint" safe>
                  {formatTime(i.openedAt)}
                </span>
              </td>
              <td safe>{i.kindLabel}</td>
              <td safe>{i.account?.username ?? '—'}</td>
              <td safe>{i.reason}</td>
              <td safe>{i.resolvedAt ? `resolved: ${i.outcome ?? ''}` : (i.assignedTo ?? 'nobody')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function renderItem(
  d: ReviewPagesDeps,
  reply: FastifyReply,
  v: Viewer,
  item: QueueItemDetail,
  flash?: string,
  error?: string,
  status = 200,
) {
  const path = `/admin/queue/${encodeURIComponent(item.id)}`;
  const open = item.resolvedAt === null;
  return sendHtml(
    reply,
    status,
    ConsolePage(d, {
      title: item.kindLabel,
      section: item.kind === 'support_request' ? 'requests' : 'queue',
      viewer: v,
      flash,
      error,
      children: (
        <>
          <section class="card" aria-labelledby="why-h">
            <h2 id="why-h">Why it is here</h2>
            <p safe>{item.reason}</p>
            <p>
              Opened <span safe>{formatTime(item.openedAt)}</span>.{' '}
              {item.account ? (
                <>
                  Account{' '}
                  <a href={`/admin/accounts/${encodeURIComponent(item.account.id)}`} safe>
                    {item.account.username}
                  </a>{' '}
                  (<span safe>{item.account.status}</span>
                  {item.account.flaggedAt ? ', flagged' : ''}).
                </>
              ) : (
                'No account matches.'
              )}
            </p>
            <p>
              {open ? (
                <>
                  Assigned to: <strong safe>{item.assignedTo ?? 'nobody'}</strong>
                </>
              ) : (
                <>
                  Resolved <span safe>{formatTime(item.resolvedAt as number)}</span>:{' '}
                  <strong safe>{item.outcome ?? ''}</strong>
                </>
              )}
            </p>
            {open && !item.assignedTo ? (
              <form method="post" action={`${path}/assign`}>
                <button type="submit">Assign to me</button>
              </form>
            ) : (
              ''
            )}
          </section>
          {item.request ? (
            <section class="card" aria-labelledby="req-h">
              <h2 id="req-h" safe>{`Request ${item.request.ref}`}</h2>
              <p>
                Identifier given: <strong safe>{item.request.identifier}</strong>
                <br />
                Contact address (not verified): <strong safe>{item.request.contact}</strong>
              </p>
              <ol class="conversation" aria-label="Messages">
                {item.request.messages.map((m) => (
                  <li class={`card msg-${m.from}`}>
                    <p class="hint" safe>{`${m.from === 'you' ? 'User' : 'Support'}, ${formatTime(m.at)}`}</p>
                    <p class="body" safe>
                      {m.body}
                    </p>
                  </li>
                ))}
              </ol>
              {open ? (
                <form method="post" action={`${path}/reply`}>
                  <TextArea
                    name="body"
                    id="f-reply"
                    label="Reply to the user"
                    maxlength={MESSAGE_MAX}
                    hint="Mailed to the contact address and shown on the request's status page. Never include a password, link or code."
                  />
                  <button type="submit">Send reply</button>
                </form>
              ) : (
                ''
              )}
            </section>
          ) : (
            ''
          )}
          <section class="card" aria-labelledby="since-h">
            <h2 id="since-h">What happened on the account</h2>
            {item.activity.length ? (
              <div class="table-wrap">
                <table class="console">
                  <caption class="hint">From a day before the item was opened, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Event</th>
                      <th scope="col">By</th>
                      <th scope="col">From</th>
                    </tr>
                  </thead>
                  <tbody>
                    {item.activity.map((a) => (
                      <tr>
                        <td safe>{formatTime(a.at)}</td>
                        <td safe>{a.event}</td>
                        <td safe>{a.actor ?? 'the user or the system'}</td>
                        <td safe>{a.ip ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p>No recorded activity.</p>
            )}
          </section>
          <section class="card" aria-labelledby="notes-h">
            <h2 id="notes-h">Notes</h2>
            {item.notes.length ? (
              <ol class="conversation">
                {item.notes.map((n) => (
                  <li>
                    <p class="hint" safe>{`${n.author ?? 'unknown'}, ${formatTime(n.at)}`}</p>
                    <p class="note-body" safe>
                      {n.body}
                    </p>
                  </li>
                ))}
              </ol>
            ) : (
              <p>No notes yet.</p>
            )}
            <form method="post" action={`${path}/notes`}>
              <TextArea
                name="body"
                id="f-note"
                label="Add a note (staff only)"
                maxlength={NOTE_MAX}
                hint="For example the identity check you made: what was checked and how."
              />
              <button type="submit">Add note</button>
            </form>
          </section>
          {open ? (
            <section class="card" aria-labelledby="resolve-h">
              <h2 id="resolve-h">Resolve</h2>
              <form method="post" action={`${path}/resolve`}>
                <div class="field">
                  <label for="f-outcome">Outcome</label>
                  <select id="f-outcome" name="outcome" required>
                    {Object.entries(REVIEW_OUTCOMES).map(([k, label]) => (
                      <option value={k}>{label}</option>
                    ))}
                  </select>
                </div>
                <TextArea
                  name="reason"
                  label="Reason"
                  maxlength={REASON_MAX}
                  hint="Kept in the audit trail (8 to 500 characters)."
                />
                <button type="submit" class="primary">
                  Resolve
                </button>
              </form>
            </section>
          ) : (
            ''
          )}
          <p>
            <a href="/admin">Back to the queue</a>
          </p>
        </>
      ),
    }),
  );
}

export function registerReviewPages(app: FastifyInstance, d: ReviewPagesDeps): void {
  app.get('/admin', { schema: { hide: true } }, async (req, reply) => {
    const v = await consoleViewer(d, req, reply, 'read', 'queue.list');
    if (!v) return reply;
    return renderQueue(d, req, reply, v, 'queue');
  });

  app.get('/admin/requests', { schema: { hide: true } }, async (req, reply) => {
    const v = await consoleViewer(d, req, reply, 'read', 'requests.list');
    if (!v) return reply;
    return renderQueue(d, req, reply, v, 'requests', 'support_request');
  });

  app.get('/admin/queue/:id', { schema: { hide: true } }, async (req, reply) => {
    const id = String((req.params as { id?: unknown }).id ?? '');
    const back = `/admin/queue/${encodeURIComponent(id)}`;
    try {
      const v = await d.staffGuard.require(await authOf(d, req), 'read', contextOf(req), 'queue.view');
      const item = await d.review.detail(v, id, contextOf(req));
      return renderItem(d, reply, v, item, DONE[one(req.query, 'done', 16)]);
    } catch (err) {
      return answerConsoleError(d, req, reply, err, back);
    }
  });

  // The item's forms: each answers with the item page again (303 on success, the page with the
  // problem otherwise), so they work without JavaScript.
  const post = (
    name: string,
    done: keyof typeof DONE,
    act: (v: Viewer, id: string, req: FastifyRequest) => Promise<void>,
    opts: { action?: boolean } = {},
  ) =>
    app.post(`/admin/queue/:id/${name}`, { schema: { hide: true } }, async (req, reply) => {
      const id = String((req.params as { id?: unknown }).id ?? '');
      const back = `/admin/queue/${encodeURIComponent(id)}`;
      const ctx = contextOf(req);
      let viewer: Viewer | undefined;
      try {
        const auth = await authOf(d, req);
        if (opts.action) {
          const r = await d.staffGuard.requireAction(
            auth,
            'assist',
            ctx,
            `queue.${name}`,
            field(req.body, 'reason', 2000),
          );
          viewer = r.viewer;
          (req as { reviewReason?: string }).reviewReason = r.reason;
        } else viewer = await d.staffGuard.require(auth, 'assist', ctx, `queue.${name}`);
        await act(viewer, id, req);
        return reply.redirect(`${back}?done=${done}`, 303);
      } catch (err) {
        if (
          err instanceof AppError &&
          viewer &&
          err.status < 500 &&
          !['forbidden', 'not_found', 'reauthentication_required'].includes(err.code)
        ) {
          const item = await d.review.detail(viewer, id, ctx);
          return renderItem(d, reply, viewer, item, undefined, pageMessage(err), err.status);
        }
        // A missing reason is refused before the viewer is known: show the item with the message.
        if (err instanceof AppError && err.code === 'validation_failed' && !viewer) {
          try {
            const v = await d.staffGuard.require(await authOf(d, req), 'read', ctx, 'queue.view');
            const item = await d.review.detail(v, id, ctx);
            return renderItem(d, reply, v, item, undefined, pageMessage(err), err.status);
          } catch (inner) {
            return answerConsoleError(d, req, reply, inner, back);
          }
        }
        return answerConsoleError(d, req, reply, err, back);
      }
    });

  post('assign', 'assigned', (v, id, req) => d.review.assign(v, id, contextOf(req)));
  post('notes', 'noted', (v, id, req) => d.review.note(v, id, field(req.body, 'body', NOTE_MAX * 2), contextOf(req)));
  post('reply', 'replied', (v, id, req) =>
    d.review.reply(v, id, field(req.body, 'body', MESSAGE_MAX * 2), contextOf(req)),
  );
  post(
    'resolve',
    'resolved',
    (v, id, req) =>
      d.review.resolve(
        v,
        id,
        field(req.body, 'outcome', 40),
        (req as { reviewReason?: string }).reviewReason ?? '',
        contextOf(req),
      ),
    { action: true },
  );
}
