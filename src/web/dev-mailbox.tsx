import type { FastifyInstance } from 'fastify';
import { escapeHtml } from '../delivery/templates.ts';
import { t, th } from '../i18n/index.ts';
import type { Kernel } from '../kernel.ts';
import { findDevMail, listDevMail } from '../store/dev-mailbox.ts';
import { Html, Page } from './layout.tsx';

/** What this module uses of the container the composition root builds. */
export type DevMailboxDeps = Pick<Kernel, 'config' | 'db'>;

void Html;

/** Escapes the text, then turns links to this service into anchors so a newcomer can click them. */
function linkify(d: DevMailboxDeps, text: string): string {
  const escaped = escapeHtml(text);
  const base = escapeHtml(d.config.publicUrl);
  return escaped.replace(
    new RegExp(`${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^\\s<]*`, 'g'),
    (url) => `<a href="${url}">${url}</a>`,
  );
}

/**
 * Development only (never registered in production): every mail and SMS the dev transport
 * delivered, newest first. HTML bodies open on their own URL under a sandbox CSP, so a mail's
 * markup can never run script in this origin.
 */
export function registerDevMailbox(app: FastifyInstance, d: DevMailboxDeps): void {
  if (!d.config.dev) return;
  const list = () => listDevMail(d.db, 200);

  app.get('/dev/mailbox', { schema: { hide: true } }, async (_req, reply) => {
    const rows = await list();
    return reply.type('text/html; charset=utf-8').send(
      Page({
        title: t('web.page.mailbox_title'),
        productName: d.config.productName,
        wide: true,
        children: (
          <>
            <p class="hint">{th('web.page.mailbox_intro')}</p>
            {rows.length === 0 ? <p>{th('web.page.mailbox_empty')}</p> : ''}
            {rows.map((m) => (
              <article class="card mail" data-channel={m.channel}>
                <h2 safe>{m.subject || t('web.page.mailbox_text_message')}</h2>
                <p class="hint" safe>
                  {t(m.channel === 'sms' ? 'web.page.mailbox_sms_to' : 'web.page.mailbox_mail_to', {
                    to: m.recipient,
                    at: `${new Date(m.created_at).toISOString().slice(0, 19).replace('T', ' ')} UTC`,
                  })}
                </p>
                <pre class="mail-body">{linkify(d, m.body_text) as 'safe'}</pre>
                {m.body_html ? (
                  <a href={`/dev/mailbox/${encodeURIComponent(m.id)}.html`}>{th('web.page.mailbox_view_html')}</a>
                ) : (
                  ''
                )}
              </article>
            ))}
          </>
        ),
      }),
    );
  });

  app.get('/dev/mailbox.json', { schema: { hide: true } }, async () => ({
    messages: (await list()).map((m) => ({
      id: m.id,
      channel: m.channel,
      to: m.recipient,
      subject: m.subject,
      text: m.body_text,
      html: m.body_html,
      createdAt: new Date(m.created_at).toISOString(),
    })),
  }));

  app.get('/dev/mailbox/:id.html', { schema: { hide: true } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const m = await findDevMail(d.db, id);
    if (!m?.body_html) return reply.status(404).type('text/plain').send('Not found');
    return reply
      .header('Content-Security-Policy', "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:")
      .type('text/html; charset=utf-8')
      .send(m.body_html);
  });
}
