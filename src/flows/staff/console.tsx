import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { hasConfirmedSecondFactor } from '../../store/staff.ts';
import { Html, Notice, Page } from '../../web/layout.tsx';
import { leadToReauthentication, type ReauthDeps, returnPath } from '../../web/reauth.ts';
import { authOf, contextOf } from '../../web/request.ts';
import type { StaffGuard, Viewer } from './guard.ts';
import type { Capability, ConsoleRole } from './roles.ts';

/** What the console's pages use of the container the composition root builds. */
export type ConsoleDeps = Pick<Kernel, 'config' | 'db'> & ReauthDeps & { staffGuard: StaffGuard };

void Html;

/** The console roles' short names, in the reader's language. */
export const ROLE_KEY: Record<ConsoleRole, string> = {
  admin: 'staff.role.admin',
  support: 'staff.role.support',
  org_owner: 'staff.role.org_owner',
  org_admin: 'staff.role.org_admin',
};

/** The console's sections, in nav order, and what each needs. */
export type ConsoleSection = 'queue' | 'accounts' | 'requests' | 'audit' | 'clients';
const NAV: { id: ConsoleSection; label: string; href: string; cap: Capability }[] = [
  { id: 'queue', label: 'staff.nav.queue', href: '/admin', cap: 'read' },
  { id: 'accounts', label: 'staff.nav.accounts', href: '/admin/accounts', cap: 'read' },
  { id: 'requests', label: 'staff.nav.requests', href: '/admin/requests', cap: 'read' },
  { id: 'audit', label: 'staff.nav.audit', href: '/admin/audit', cap: 'audit' },
  { id: 'clients', label: 'staff.nav.clients', href: '/admin/clients', cap: 'manage' },
];

export interface ConsolePageOptions {
  title: string;
  section: ConsoleSection;
  viewer: Viewer;
  children?: JSX.Element | JSX.Element[] | string;
  flash?: string;
  error?: string;
}

/** The shared console layout: the site's page, wide, with the console's nav (only what the viewer may open). */
export function ConsolePage(d: ConsoleDeps, o: ConsolePageOptions): string {
  const role = d.staffGuard.roleOf(o.viewer);
  return Page({
    title: o.title,
    productName: d.config.productName,
    signedIn: { username: o.viewer.auth.account.username },
    wide: true,
    children: (
      <>
        <nav class="console-nav" aria-label={t('staff.nav.label')}>
          <ul>
            {NAV.filter((n) => d.staffGuard.can(o.viewer, n.cap)).map((n) => (
              <li>
                <a href={n.href} aria-current={n.id === o.section ? 'page' : undefined}>
                  {th(n.label)}
                </a>
              </li>
            ))}
          </ul>
          <p class="hint">
            {th('staff.nav.signed_in_as', {
              username: o.viewer.auth.account.username,
              role: role ? t(ROLE_KEY[role]) : '',
            })}
          </p>
        </nav>
        <Notice kind="success" text={o.flash} />
        <Notice kind="error" text={o.error} />
        {o.children as 'safe'}
      </>
    ),
  });
}

export function sendHtml(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.status(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
}

function renderRefusal(d: ConsoleDeps, reply: FastifyReply, err: AppError): FastifyReply {
  return sendHtml(
    reply,
    err.status,
    Page({
      title: err.status === 404 ? t('staff.refused.not_found') : t('staff.refused.not_allowed'),
      productName: d.config.productName,
      children: <Notice kind="error" text={pageMessage(err)} />,
    }),
  );
}

/**
 * The answer of a console page to a refusal from the guard: /login without a session, enrolment
 * or a fresh sign-in with the factor without a second factor (ADM-07), sign in again for a stale
 * sign-in (SES-07), an error page otherwise. `back` is where the browser returns afterwards.
 */
export async function answerConsoleError(
  d: ConsoleDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  err: unknown,
  back: string,
): Promise<FastifyReply> {
  if (!(err instanceof AppError)) throw err;
  if (err.code === 'unauthorized') {
    const next = returnPath(d, back);
    return reply.redirect(`/login${next ? `?next=${encodeURIComponent(next)}` : ''}`, 303);
  }
  if (err.code === 'staff_second_factor_required') {
    const auth = await authOf(d, req);
    if (auth && (await hasConfirmedSecondFactor(d.db, auth.account.id)))
      return leadToReauthentication(d, req, reply, back);
    return reply.redirect('/settings#two-step', 303);
  }
  if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, back);
  return renderRefusal(d, reply, err);
}

/**
 * A console page's viewer, or null once the refusal has been answered. Every /admin page
 * starts here:
 *
 *   const v = await consoleViewer(d, req, reply, 'read', 'accounts.search');
 *   if (!v) return reply;
 */
export async function consoleViewer(
  d: ConsoleDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  cap: Capability,
  action: string,
): Promise<Viewer | null> {
  try {
    return await d.staffGuard.require(await authOf(d, req), cap, contextOf(req), action);
  } catch (err) {
    await answerConsoleError(d, req, reply, err, req.url);
    return null;
  }
}
