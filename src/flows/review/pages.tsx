import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatTime } from '../../delivery/templates.ts';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
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
import { statusLabel } from '../staff/pages.tsx';
import { TextArea } from '../support/pages.tsx';
import { MESSAGE_MAX } from '../support/service.ts';
import { AGE_FILTERS, NOTE_MAX, type QueueEntry, type QueueItemDetail, type ReviewService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type ReviewPagesDeps = ConsoleDeps & Pick<Kernel, 'clock'> & { review: ReviewService };

void Html;

const DONE: Record<string, string> = {
  assigned: 'review.done.assigned',
  noted: 'review.done.noted',
  replied: 'review.done.replied',
  resolved: 'review.done.resolved',
};

function age(now: number, at: number): string {
  const m = Math.max(0, Math.floor((now - at) / 60_000));
  if (m < 60) return t('review.age.minutes', { count: m });
  const h = Math.floor(m / 60);
  return h < 48 ? t('review.age.hours', { count: h }) : t('review.age.days', { count: Math.floor(h / 24) });
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
  const title = section === 'requests' ? t('review.requests_title') : t('review.queue_title');
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
          <h2 id="counts-h">{th('review.open_items')}</h2>
          <ul class="queue-counts" aria-labelledby="counts-h">
            {(Object.keys(REVIEW_KINDS) as ReviewKind[]).map((k) => (
              <li>
                <a href={`/admin?kind=${k}`}>{th(REVIEW_KINDS[k])}</a>:{' '}
                <strong data-kind={k} safe>
                  {String(data.counts[k])}
                </strong>
              </li>
            ))}
          </ul>
          <form method="get" action={action} class="filters card" aria-label={t('review.filter_label')}>
            {fixedKind ? (
              ''
            ) : (
              <div class="field">
                <label for="q-kind">{th('review.col.kind')}</label>
                <select id="q-kind" name="kind">
                  <option value="">{th('review.any')}</option>
                  {(Object.keys(REVIEW_KINDS) as ReviewKind[]).map((k) => (
                    <option value={k} selected={query.kind === k}>
                      {th(REVIEW_KINDS[k])}
                    </option>
                  ))}
                </select>
              </div>
            )}
            <div class="field">
              <label for="q-org">{th('review.organization')}</label>
              <select id="q-org" name="org">
                <option value="">{th('review.any')}</option>
                {orgs.map((o) => (
                  <option value={o.id} selected={query.org === o.id} safe>
                    {o.name}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="q-age">{th('review.waiting_at_least')}</label>
              <select id="q-age" name="age">
                <option value="">{th('review.any_time')}</option>
                {Object.keys(AGE_FILTERS).map((a) => (
                  <option value={a} selected={query.age === a} safe>
                    {a}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="q-status">{th('review.status')}</label>
              <select id="q-status" name="status">
                <option value="open">{th('review.open')}</option>
                <option value="resolved" selected={query.resolved}>
                  {th('review.resolved')}
                </option>
              </select>
            </div>
            <button type="submit">{th('review.filter')}</button>
          </form>
          {data.items.length ? queueTable(data.items, now) : <p>{th('review.empty')}</p>}
        </>
      ),
    }),
  );
}

function queueTable(items: QueueEntry[], now: number): JSX.Element {
  return (
    <div class="table-wrap">
      <table class="console">
        <caption class="hint">{th('review.oldest_first')}</caption>
        <thead>
          <tr>
            <th scope="col">{th('review.col.waiting')}</th>
            <th scope="col">{th('review.col.kind')}</th>
            <th scope="col">{th('review.col.account')}</th>
            <th scope="col">{th('review.col.why')}</th>
            <th scope="col">{th('review.col.assigned')}</th>
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
              <td safe>
                {i.resolvedAt
                  ? t('review.resolved_as', { outcome: i.outcome ?? '' })
                  : (i.assignedTo ?? t('review.nobody'))}
              </td>
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
            <h2 id="why-h">{th('review.why')}</h2>
            <p safe>{item.reason}</p>
            <p>
              {th('review.opened', { at: formatTime(item.openedAt), time: (s) => `<span>${s}</span>` })}{' '}
              {item.account
                ? th('review.account_line', {
                    username: item.account.username,
                    status: item.account.flaggedAt
                      ? t('staff.status_flagged', { status: statusLabel(item.account.status) })
                      : statusLabel(item.account.status),
                    link: (s) => `<a href="/admin/accounts/${encodeURIComponent(item.account?.id ?? '')}">${s}</a>`,
                    st: (s) => `<span>${s}</span>`,
                  })
                : th('review.no_account')}
            </p>
            <p>
              {open
                ? th('review.assigned_to', {
                    who: item.assignedTo ?? t('review.nobody'),
                    b: (s) => `<strong>${s}</strong>`,
                  })
                : th('review.resolved_at', {
                    at: formatTime(item.resolvedAt as number),
                    outcome: item.outcome ?? '',
                    time: (s) => `<span>${s}</span>`,
                    b: (s) => `<strong>${s}</strong>`,
                  })}
            </p>
            {open && !item.assignedTo ? (
              <form method="post" action={`${path}/assign`}>
                <button type="submit">{th('review.assign')}</button>
              </form>
            ) : (
              ''
            )}
          </section>
          {item.request ? (
            <section class="card" aria-labelledby="req-h">
              <h2 id="req-h" safe>
                {t('review.request_title', { ref: item.request.ref })}
              </h2>
              <p>
                {th('review.identifier_given', { value: item.request.identifier, b: (s) => `<strong>${s}</strong>` })}
                <br />
                {th('review.contact_given', { value: item.request.contact, b: (s) => `<strong>${s}</strong>` })}
              </p>
              <ol class="conversation" aria-label={t('review.messages')}>
                {item.request.messages.map((m) => (
                  <li class={`card msg-${m.from}`}>
                    <p class="hint" safe>
                      {m.from === 'you'
                        ? t('review.from_user', { at: formatTime(m.at) })
                        : t('review.from_support', { at: formatTime(m.at) })}
                    </p>
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
                    label={t('review.reply_label')}
                    maxlength={MESSAGE_MAX}
                    hint={t('review.reply_hint')}
                  />
                  <button type="submit">{th('review.reply_submit')}</button>
                </form>
              ) : (
                ''
              )}
            </section>
          ) : (
            ''
          )}
          <section class="card" aria-labelledby="since-h">
            <h2 id="since-h">{th('review.activity')}</h2>
            {item.activity.length ? (
              <div class="table-wrap">
                <table class="console">
                  <caption class="hint">{th('review.activity_caption')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{th('staff.col.when')}</th>
                      <th scope="col">{th('staff.col.event')}</th>
                      <th scope="col">{th('review.col.by')}</th>
                      <th scope="col">{th('staff.col.from')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {item.activity.map((a) => (
                      <tr>
                        <td safe>{formatTime(a.at)}</td>
                        <td safe>{a.event}</td>
                        <td safe>{a.actor ?? t('review.user_or_system')}</td>
                        <td safe>{a.ip ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p>{th('review.no_activity')}</p>
            )}
          </section>
          <section class="card" aria-labelledby="notes-h">
            <h2 id="notes-h">{th('review.notes')}</h2>
            {item.notes.length ? (
              <ol class="conversation">
                {item.notes.map((n) => (
                  <li>
                    <p class="hint" safe>{`${n.author ?? t('review.unknown_author')}, ${formatTime(n.at)}`}</p>
                    <p class="note-body" safe>
                      {n.body}
                    </p>
                  </li>
                ))}
              </ol>
            ) : (
              <p>{th('review.no_notes')}</p>
            )}
            <form method="post" action={`${path}/notes`}>
              <TextArea
                name="body"
                id="f-note"
                label={t('review.note_label')}
                maxlength={NOTE_MAX}
                hint={t('review.note_hint')}
              />
              <button type="submit">{th('review.note_submit')}</button>
            </form>
          </section>
          {open ? (
            <section class="card" aria-labelledby="resolve-h">
              <h2 id="resolve-h">{th('review.resolve')}</h2>
              <form method="post" action={`${path}/resolve`}>
                <div class="field">
                  <label for="f-outcome">{th('review.outcome_label')}</label>
                  <select id="f-outcome" name="outcome" required>
                    {Object.entries(REVIEW_OUTCOMES).map(([k, label]) => (
                      <option value={k}>{th(label)}</option>
                    ))}
                  </select>
                </div>
                <TextArea
                  name="reason"
                  label={t('review.reason_label')}
                  maxlength={REASON_MAX}
                  hint={t('review.reason_hint')}
                />
                <button type="submit" class="primary">
                  {th('review.resolve')}
                </button>
              </form>
            </section>
          ) : (
            ''
          )}
          <p>
            <a href="/admin">{th('review.back')}</a>
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
      const done = one(req.query, 'done', 16);
      return renderItem(d, reply, v, item, Object.hasOwn(DONE, done) ? t(DONE[done] as string) : undefined);
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
