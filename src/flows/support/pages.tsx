import type { FastifyInstance, FastifyReply } from 'fastify';
import { formatTime } from '../../delivery/templates.ts';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { CaptchaSlot, type CaptchaSlotDeps } from '../../web/captcha-slot.tsx';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { captchaField, contextOf, field } from '../../web/request.ts';
import { MESSAGE_MAX, type SupportService, type SupportStatus } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type SupportPagesDeps = Pick<Kernel, 'config'> & { support: SupportService } & CaptchaSlotDeps;

void Html;

const STATUS_LABEL: Record<SupportStatus['status'], string> = {
  open: 'support.status.open',
  answered: 'support.status.answered',
  closed: 'support.status.closed',
};

// The status page is reached by a secret link: never cached, never passed on as a referrer.
function privateHtml(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(body);
}

interface FormState {
  identifier?: string;
  contact?: string;
  message?: string;
  error?: string;
  status?: number;
}

/** A multi-line field with the same label and hint furniture as `Field`. */
export function TextArea(p: {
  name: string;
  label: string;
  value?: string;
  hint?: string;
  maxlength: number;
  /** when one page has two fields of the same name */
  id?: string;
}) {
  const id = p.id ?? `f-${p.name}`;
  return (
    <div class="field">
      <label for={id} safe>
        {p.label}
      </label>
      <textarea
        id={id}
        name={p.name}
        rows="6"
        required
        maxlength={p.maxlength}
        aria-describedby={p.hint ? `${id}-hint` : undefined}
        safe
      >
        {p.value ?? ''}
      </textarea>
      {p.hint ? (
        <p class="hint" id={`${id}-hint`} safe>
          {p.hint}
        </p>
      ) : (
        ''
      )}
    </div>
  );
}

export function renderSupportForm(d: SupportPagesDeps, reply: FastifyReply, o: FormState = {}) {
  return privateHtml(
    reply,
    o.status ?? 200,
    Page({
      title: t('support.title'),
      productName: d.config.productName,
      children: (
        <>
          <Notice kind="error" text={o.error} />
          <form method="post" action="/support" class="card" novalidate>
            <p>{th('support.intro')}</p>
            <Field
              name="identifier"
              label={t('support.identifier')}
              value={o.identifier}
              autocomplete="username"
              autofocus
              maxlength={320}
            />
            <Field
              name="contact"
              label={t('support.contact')}
              type="email"
              value={o.contact}
              autocomplete="email"
              maxlength={320}
              hint={t('support.contact_hint')}
            />
            <TextArea
              name="message"
              label={t('support.message')}
              value={o.message}
              maxlength={MESSAGE_MAX}
              hint={t('support.message_hint')}
            />
            {CaptchaSlot(d)}
            <button type="submit" class="primary">
              {th('support.submit')}
            </button>
            <p class="links">
              <a href="/forgot-password">{th('support.forgot')}</a>
              <a href="/login">{th('support.back')}</a>
            </p>
          </form>
        </>
      ),
    }),
  );
}

function renderFiled(d: SupportPagesDeps, reply: FastifyReply, message: string) {
  return privateHtml(
    reply,
    200,
    Page({
      title: t('support.received'),
      productName: d.config.productName,
      children: (
        <>
          <Notice kind="success" text={message} />
          <p class="links">
            <a href="/login">{th('support.back')}</a>
          </p>
        </>
      ),
    }),
  );
}

function renderStatus(d: SupportPagesDeps, reply: FastifyReply, s: SupportStatus) {
  return privateHtml(
    reply,
    200,
    Page({
      title: t('support.request_title', { ref: s.ref }),
      productName: d.config.productName,
      wide: true,
      children: (
        <>
          <p class="card">
            {th('support.status_line', {
              status: t(STATUS_LABEL[s.status]),
              b: (x) => `<strong>${x}</strong>`,
              v: (x) => `<span>${x}</span>`,
            })}
            <br />
            {th('support.sent_line', {
              at: formatTime(s.createdAt),
              b: (x) => `<strong>${x}</strong>`,
              v: (x) => `<span>${x}</span>`,
            })}
          </p>
          <ol class="conversation" aria-label={t('support.messages')}>
            {s.messages.map((m) => (
              <li class={`card msg-${m.from}`}>
                <p class="hint" safe>
                  {m.from === 'you'
                    ? t('support.you_wrote', { at: formatTime(m.at) })
                    : t('support.staff_replied', { at: formatTime(m.at) })}
                </p>
                <p class="body" safe>
                  {m.body}
                </p>
              </li>
            ))}
          </ol>
          <p>{th('support.keep_private')}</p>
        </>
      ),
    }),
  );
}

function renderNoRequest(d: SupportPagesDeps, reply: FastifyReply) {
  return privateHtml(
    reply,
    404,
    Page({
      title: t('support.not_found'),
      productName: d.config.productName,
      children: (
        <div class="card">
          <Notice kind="error" text={t('support.not_found_text')} />
          <p class="links">
            <a href="/support">{th('support.title')}</a>
          </p>
        </div>
      ),
    }),
  );
}

export function registerSupportPages(app: FastifyInstance, d: SupportPagesDeps): void {
  app.get('/support', { schema: { hide: true } }, async (_req, reply) => renderSupportForm(d, reply));

  app.post('/support', { schema: { hide: true } }, async (req, reply) => {
    const input = {
      identifier: field(req.body, 'identifier', 320),
      contact: field(req.body, 'contact', 320),
      message: field(req.body, 'message', MESSAGE_MAX * 2),
    };
    try {
      const { message } = await d.support.file({ ...input, captcha: captchaField(req.body) }, contextOf(req));
      return renderFiled(d, reply, message);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      return renderSupportForm(d, reply, { ...input, error: pageMessage(err), status: err.status });
    }
  });

  app.get('/support/requests/:id', { schema: { hide: true } }, async (req, reply) => {
    const id = String((req.params as { id?: unknown }).id ?? '');
    const raw = (req.query as Record<string, unknown> | undefined)?.sig;
    try {
      return renderStatus(d, reply, await d.support.status(id, typeof raw === 'string' ? raw : ''));
    } catch (err) {
      if (err instanceof AppError && err.code === 'not_found') return renderNoRequest(d, reply);
      throw err;
    }
  });
}

/** The "Contact support" link other pages show. */
export const SUPPORT_LINK = '/support';
