import type { FastifyReply } from 'fastify';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { Html, Notice, Page } from '../../web/layout.tsx';
import { type OrgView, orgName, orgPrefix } from '../../web/org-context.ts';
import { resetDone } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type RecoveryPagePartsDeps = Pick<Kernel, 'config'>;

void Html;

/**
 * Reset pages carry secrets in the URL or the form: never cached, never sent on as a referrer
 * (REC-05; helmet already sets no-referrer everywhere, this keeps it true if that changes).
 * Shared by the link/code pages and the OTP methods' pages.
 */
export function resetHtml(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(body);
}

/** After any successful reset: no session (REC-07), just the way back to sign in. */
export function renderResetDone(d: RecoveryPagePartsDeps, reply: FastifyReply, org?: OrgView) {
  return resetHtml(
    reply,
    200,
    Page({
      title: t('recovery.done_title'),
      productName: orgName(org, d.config.productName),
      orgPrefix: orgPrefix(org),
      children: (
        <div class="card">
          <Notice kind="success" text={resetDone()} />
          <form method="get" action={`${orgPrefix(org)}/login`}>
            <button type="submit" class="primary">
              {th('recovery.sign_in')}
            </button>
          </form>
        </div>
      ),
    }),
  );
}
