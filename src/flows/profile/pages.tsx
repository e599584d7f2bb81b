import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { currentLocale, LANGUAGE_NAMES, type Locale, offeredLocales, t, th } from '../../i18n/index.ts';
import type { Authenticated } from '../../web/auth.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { leadToReauthentication, type ReauthDeps } from '../../web/reauth.ts';
import { authOf, clearSessionCookie, contextOf, field } from '../../web/request.ts';
import { type AccountPagesDeps, pageAuth, renderSettings } from '../account/pages.tsx';
import { FOLLOW_BROWSER } from '../language/service.ts';
import type { AccountDeletion } from './deletion.ts';
import type { ProfileService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type ProfilePagesDeps = {
  profile: ProfileService;
  deletion: AccountDeletion;
} & AccountPagesDeps &
  ReauthDeps;

void Html;

// Each card shows its own outcome, next to its form (the redirect lands on the card's anchor).
// The maps give catalog keys; the words are looked up while rendering, in the reader's language.
const EMAIL_FLASH: Record<string, string> = {
  email_pending: 'profile.flash.email_pending',
  email_changed: 'profile.flash.email_changed',
  email_change_cancelled: 'profile.flash.email_change_cancelled',
};
const USERNAME_FLASH: Record<string, string> = { username_changed: 'profile.flash.username_changed' };
const DELETE_FLASH: Record<string, string> = { deletion_cancelled: 'profile.flash.deletion_cancelled' };
const LANGUAGE_FLASH: Record<string, string> = { language_saved: 'profile.flash.language_saved' };
const flashOf = (map: Record<string, string>, flash: string | undefined) =>
  flash && Object.hasOwn(map, flash) ? t(map[flash] as string) : undefined;

/** Whether a change would pass SES-07 now, so the page can say beforehand that it will not. */
function recentSignIn(d: ProfilePagesDeps, auth: Authenticated): boolean {
  try {
    d.sessions.requireRecentAuth(auth.session);
    return true;
  } catch {
    return false;
  }
}

/** The "Email and username" and "Delete account" sections of /settings. */
export async function profileSection(
  d: ProfilePagesDeps,
  auth: Authenticated,
  flash: string | undefined,
): Promise<string> {
  const a = auth.account;
  const pending = await d.profile.pendingEmail(a.id);
  const recent = recentSignIn(d, auth);
  const graceDays = Math.max(1, Math.round(d.config.deletionGrace / 86_400_000));
  return (
    <>
      <section class="card" id="identifiers" aria-labelledby="identifiers-h">
        <h2 id="identifiers-h">{th('profile.email_heading')}</h2>
        <Notice kind="success" text={flashOf(EMAIL_FLASH, flash)} />
        {recent ? '' : <p class="hint">{th('profile.reauth_hint')}</p>}
        {pending ? (
          <div class="pending" id="email-pending">
            <p>
              {th('profile.pending', {
                strong: (s) => `<strong>${s}</strong>`,
                addr: (s) => `<span>${s}</span>`,
                pending,
                current: a.email ?? t('profile.none'),
              })}
            </p>
            <form method="post" action="/settings/email/confirm" novalidate>
              <Field name="code" label={t('profile.code_label')} autocomplete="one-time-code" maxlength={16} />
              <div class="field">
                <button type="submit" class="primary">
                  {th('profile.confirm_new_address')}
                </button>
              </div>
            </form>
            <form method="post" action="/settings/email/cancel">
              <div class="field">
                <button type="submit">{th('profile.cancel_change')}</button>
              </div>
            </form>
          </div>
        ) : (
          ''
        )}
        <form method="post" action="/settings/email" novalidate>
          <Field
            name="email"
            label={t('profile.new_email_label')}
            type="email"
            autocomplete="email"
            maxlength={320}
            hint={t('profile.new_email_hint')}
          />
          <button type="submit">{th('profile.change_email')}</button>
        </form>
      </section>
      <section class="card" id="username" aria-labelledby="username-h">
        <h2 id="username-h">{th('profile.username_heading')}</h2>
        <Notice kind="success" text={flashOf(USERNAME_FLASH, flash)} />
        <form method="post" action="/settings/username" novalidate>
          <Field
            name="username"
            label={t('profile.new_username_label')}
            autocomplete="username"
            maxlength={32}
            hint={t('profile.username_hint')}
          />
          <button type="submit">{th('profile.change_username')}</button>
        </form>
      </section>
      {languageSection(auth, flash)}
      <section class="card" id="delete" aria-labelledby="delete-h">
        <h2 id="delete-h">{th('profile.delete_heading')}</h2>
        <Notice kind="success" text={flashOf(DELETE_FLASH, flash)} />
        <p>
          {d.config.deletionGrace >= 86_400_000
            ? th('profile.delete_text_days', { count: graceDays })
            : th('profile.delete_text_soon')}
        </p>
        <form method="post" action="/settings/delete" novalidate>
          <Field
            name="confirm"
            label={t('profile.delete_confirm_label')}
            autocomplete="off"
            maxlength={64}
            hint={t('profile.delete_confirm_hint', { username: a.username })}
          />
          <button type="submit">{th('profile.delete_button')}</button>
        </form>
      </section>
    </>
  ) as string;
}

/**
 * The "Language" section (issue 17): the account's saved language, or none (the browser decides).
 * A plain form to POST /language, so it works without JavaScript; `auto` goes back to following
 * the browser. Each language is named in itself, like the picker at the foot of the page.
 */
export function languageSection(auth: Authenticated, flash: string | undefined): JSX.Element {
  const offered = offeredLocales();
  const saved = auth.account.locale && offered.includes(auth.account.locale) ? auth.account.locale : null;
  const nameOf = (l: string) => LANGUAGE_NAMES[l as Locale] ?? l;
  const choice = (value: string, label: string, lang?: string) => (
    <div class="field check">
      <input
        type="radio"
        id={`language-${value}`}
        name="language"
        value={value}
        checked={(saved ?? FOLLOW_BROWSER) === value}
      />
      <label for={`language-${value}`} lang={lang} safe>
        {label}
      </label>
    </div>
  );
  return (
    <section class="card" id="language" aria-labelledby="language-h">
      <h2 id="language-h">{th('profile.language_heading')}</h2>
      <Notice kind="success" text={flashOf(LANGUAGE_FLASH, flash)} />
      <p id="language-now">
        {saved
          ? th('profile.language_saved_choice', { language: nameOf(saved) })
          : th('profile.language_following_browser', { language: nameOf(currentLocale()) })}
      </p>
      <form method="post" action="/language">
        <input type="hidden" name="back" value="/settings?done=language_saved#language" />
        <fieldset class="choices">
          <legend>{th('profile.language_legend')}</legend>
          {choice(FOLLOW_BROWSER, t('profile.language_browser'))}
          {offered.map((l) => choice(l, nameOf(l), l))}
        </fieldset>
        <p class="hint">{th('profile.language_hint')}</p>
        <button type="submit">{th('profile.language_save')}</button>
      </form>
    </section>
  ) as string;
}

function send(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .send(body);
}

/** The page the mailed link opens: a GET shows a button and changes nothing (REC-04). */
function verifyPage(d: ProfilePagesDeps, o: { token?: string; error?: string; done?: string; signedIn?: boolean }) {
  return Page({
    title: t('profile.verify_title'),
    productName: d.config.productName,
    children: (
      <>
        <Notice kind="error" text={o.error} />
        <Notice kind="success" text={o.done} />
        {o.token ? (
          <form method="post" action="/settings/email/verify">
            <input type="hidden" name="token" value={o.token} />
            <p>{th('profile.verify_question')}</p>
            <button type="submit" class="primary">
              {th('profile.verify_button')}
            </button>
          </form>
        ) : (
          <p>
            <a href={o.signedIn ? '/settings' : '/login'}>
              {o.signedIn ? th('profile.back_to_settings') : th('profile.sign_in')}
            </a>
          </p>
        )}
      </>
    ),
  });
}

export function registerProfilePages(app: FastifyInstance, d: ProfilePagesDeps): void {
  const handle = (
    path: string,
    run: (auth: Authenticated, body: unknown, ctx: ReturnType<typeof contextOf>) => Promise<string>,
  ) =>
    app.post(path, { schema: { hide: true } }, async (req, reply) => {
      const auth = await pageAuth(d, req, reply);
      if (!auth) return reply;
      try {
        const done = await run(auth, req.body, contextOf(req));
        return reply.redirect(done, 303);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        // SES-07: sign in again, come back to /settings, repeat the change.
        if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, '/settings');
        if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
        return renderSettings(d, reply, auth, { error: pageMessage(err), status: err.status });
      }
    });

  handle('/settings/email', async (auth, body, ctx) => {
    await d.profile.startEmailChange(auth, { email: field(body, 'email', 320) }, ctx);
    return '/settings?done=email_pending#identifiers';
  });
  handle('/settings/email/confirm', async (auth, body, ctx) => {
    await d.profile.confirmEmailWithCode(auth, { code: field(body, 'code', 32) }, ctx);
    return '/settings?done=email_changed#identifiers';
  });
  handle('/settings/email/cancel', async (auth, _body, ctx) => {
    await d.profile.cancelEmailChange(auth, ctx);
    return '/settings?done=email_change_cancelled#identifiers';
  });
  handle('/settings/username', async (auth, body, ctx) => {
    await d.profile.changeUsername(auth, { username: field(body, 'username', 256) }, ctx);
    return '/settings?done=username_changed#username';
  });

  app.post('/settings/delete', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    try {
      await d.deletion.request(auth, { confirm: field(req.body, 'confirm', 256) }, contextOf(req));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, '/settings');
      return renderSettings(d, reply, auth, { error: pageMessage(err), status: err.status });
    }
    clearSessionCookie(d, reply);
    return reply.redirect('/login?msg=deletion_requested', 303);
  });

  app.get('/settings/email/verify', { schema: { hide: true } }, async (req, reply) => {
    const raw = (req.query as Record<string, unknown>)?.token;
    const token = typeof raw === 'string' && raw.length <= 128 ? raw : '';
    const live = await d.profile.tokenLooksLive(token);
    return send(
      reply,
      live ? 200 : 400,
      verifyPage(
        d,
        live ? { token } : { error: new AppError('invalid_token').message, signedIn: !!(await authOf(d, req)) },
      ),
    );
  });

  app.post('/settings/email/verify', { schema: { hide: true } }, async (req, reply) => {
    const signedIn = !!(await authOf(d, req));
    try {
      const { email } = await d.profile.confirmEmailWithToken({ token: field(req.body, 'token', 256) }, contextOf(req));
      if (signedIn) return reply.redirect('/settings?done=email_changed#identifiers', 303);
      return send(reply, 200, verifyPage(d, { done: t('profile.verify_done', { email }), signedIn }));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      return send(reply, err.status, verifyPage(d, { error: pageMessage(err), signedIn }));
    }
  });
}
