import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import type { Authenticated } from '../../web/auth.ts';
import { readCookie } from '../../web/cookies.ts';
import { deviceName, LocalTime, userAgentTitle } from '../../web/device.tsx';
import type { PageExtras } from '../../web/extras.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { returnPath } from '../../web/reauth.ts';
import {
  authOf,
  clearSessionCookie,
  contextOf,
  field,
  type RequestDeps,
  sessionCookieName,
  setSessionCookie,
} from '../../web/request.ts';
import type { SessionService } from '../sessions/service.ts';
import type { AccountService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type AccountPagesDeps = Pick<Kernel, 'config'> & {
  sessions: SessionService;
  account: AccountService;
  pages: Pick<PageExtras, 'settingsSections'>;
} & RequestDeps;

void Html;

/** `?done=` notices: each code's catalog key. */
const FLASH: Record<string, string> = {
  password_changed: 'account.flash.password_changed',
  session_ended: 'account.flash.session_ended',
};
/** The section each of these messages belongs to (and is shown in). */
const FLASH_SECTION: Record<string, string> = { password_changed: 'password', session_ended: 'sessions' };
const flashIn = (section: string, flash: string | undefined) =>
  flash && Object.hasOwn(FLASH, flash) && FLASH_SECTION[flash] === section ? t(FLASH[flash] as string) : undefined;

/** Settings pages need a session; without one the user goes to sign in. */
export async function pageAuth(
  d: AccountPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Authenticated | null> {
  const auth = await authOf(d, req);
  if (!auth) {
    // Only a browser that had a session hears that it ended; anyone else is simply asked to sign in,
    // and comes back to the page afterwards.
    const had = Boolean(readCookie(req, sessionCookieName(d)));
    const back = req.method === 'GET' ? returnPath(d, req.url) : undefined;
    reply.redirect(
      `/login?msg=${had ? 'session_ended' : 'sign_in_required'}${back ? `&next=${encodeURIComponent(back)}` : ''}`,
      303,
    );
    return null;
  }
  return auth;
}

export async function renderSettings(
  d: AccountPagesDeps,
  reply: FastifyReply,
  auth: Authenticated,
  o: { flash?: string; error?: string; status?: number; section?: string } = {},
) {
  const a = auth.account;
  const sessions = await d.sessions.list(a.id, auth.session.id);
  const sectionError = o.error && o.section ? { section: o.section, text: o.error } : undefined;
  const errorIn = (section: string) => (sectionError?.section === section ? sectionError.text : undefined);
  const extra = await Promise.all(d.pages.settingsSections.map((s) => s(auth, o.flash, sectionError)));
  return reply
    .status(o.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(
      Page({
        title: t('account.title'),
        productName: d.config.productName,
        signedIn: { username: a.username },
        wide: true,
        children: (
          <>
            <Notice kind="error" text={sectionError ? undefined : o.error} />
            <section class="card" aria-labelledby="profile-h">
              <h2 id="profile-h">{th('account.profile')}</h2>
              <dl>
                <dt>{th('account.username')}</dt>
                <dd safe>{a.username}</dd>
                <dt>{th('account.email')}</dt>
                <dd safe>{a.email ?? t('account.email_none')}</dd>
                <dt>{th('account.endpoint')}</dt>
                <dd>
                  <code safe>{d.config.publicUrl}</code>
                  <span class="hint"> {th('account.endpoint_hint')}</span>
                </dd>
              </dl>
            </section>
            <section class="card" id="password" aria-labelledby="password-h">
              <h2 id="password-h">{th('account.password.heading')}</h2>
              <Notice kind="success" text={flashIn('password', o.flash)} />
              <Notice kind="error" text={errorIn('password')} />
              <form method="post" action="/settings/password#password" novalidate>
                <Field
                  name="currentPassword"
                  label={t('account.password.current')}
                  type="password"
                  autocomplete="current-password"
                />
                <Field
                  name="newPassword"
                  label={t('account.password.new')}
                  type="password"
                  autocomplete="new-password"
                  policy
                />
                <Field
                  name="newPasswordConfirm"
                  label={t('account.password.confirm')}
                  type="password"
                  autocomplete="new-password"
                />
                <button type="submit" class="primary">
                  {th('account.password.submit')}
                </button>
              </form>
            </section>
            {extra.join('') as 'safe'}
            <section class="card" id="sessions" aria-labelledby="sessions-h">
              <h2 id="sessions-h">{th('account.sessions.heading')}</h2>
              <Notice kind="success" text={flashIn('sessions', o.flash)} />
              <ul class="sessions">
                {sessions.map((s) => (
                  <li>
                    <strong title={userAgentTitle(s.userAgent)} safe>
                      {deviceName(s.userAgent)}
                    </strong>
                    <span class="hint">
                      {' '}
                      {th('account.sessions.line', {
                        ip: s.ip ?? '',
                        method: s.method,
                        time: () => LocalTime({ ms: Date.parse(s.createdAt) }) as string,
                      })}
                    </span>
                    {s.current ? (
                      <strong> {th('account.sessions.this_browser')}</strong>
                    ) : (
                      <form method="post" action={`/settings/sessions/${encodeURIComponent(s.id)}/end`} class="inline">
                        <button type="submit" class="link">
                          {th('account.sessions.sign_out')}
                        </button>
                      </form>
                    )}
                  </li>
                ))}
              </ul>
              <form method="post" action="/settings/sessions/end-all">
                <button type="submit">{th('account.sessions.sign_out_all')}</button>
              </form>
            </section>
          </>
        ),
      }),
    );
}

export function registerAccountPages(app: FastifyInstance, d: AccountPagesDeps): void {
  app.get('/settings', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const done = (req.query as Record<string, unknown>)?.done;
    // Sections look the flash up in their own message maps: never hand them __proto__ and friends (WEB-04).
    const flash =
      typeof done === 'string' && /^[a-z0-9_]{1,64}$/.test(done) && !(done in Object.prototype) ? done : undefined;
    return renderSettings(d, reply, auth, { flash });
  });

  app.post('/settings/password', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    try {
      const { token } = await d.account.changePassword(
        auth,
        {
          currentPassword: field(req.body, 'currentPassword', 1024),
          newPassword: field(req.body, 'newPassword', 1024),
          newPasswordConfirm: field(req.body, 'newPasswordConfirm', 1024),
        },
        contextOf(req),
      );
      setSessionCookie(d, reply, token);
      return reply.redirect('/settings?done=password_changed#password', 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return renderSettings(d, reply, auth, { error: pageMessage(err), status: err.status, section: 'password' });
    }
  });

  app.post('/settings/sessions/:id/end', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const { id } = req.params as { id: string };
    try {
      await d.sessions.revoke(auth.account.id, id, contextOf(req));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
    }
    return reply.redirect('/settings?done=session_ended#sessions', 303);
  });

  app.post('/settings/sessions/end-all', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    await d.sessions.signOutEverywhere(auth.account.id, contextOf(req));
    clearSessionCookie(d, reply);
    return reply.redirect('/login?msg=signed_out', 303);
  });
}
