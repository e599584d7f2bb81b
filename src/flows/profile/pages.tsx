import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import type { Authenticated } from '../../web/auth.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { leadToReauthentication, type ReauthDeps } from '../../web/reauth.ts';
import { authOf, clearSessionCookie, contextOf, field } from '../../web/request.ts';
import { type AccountPagesDeps, pageAuth, renderSettings } from '../account/pages.tsx';
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
const EMAIL_FLASH: Record<string, string> = {
  email_pending: 'We sent a link and a code to your new address. It is not used until you confirm it.',
  email_changed: 'Your new email address is confirmed and in use. We told your old address.',
  email_change_cancelled: 'The pending email change was cancelled. Your address did not change.',
};
const USERNAME_FLASH: Record<string, string> = { username_changed: 'Your username was changed.' };
const DELETE_FLASH: Record<string, string> = {
  deletion_cancelled: 'You signed in, so the deletion of your account was cancelled. Your account stays as it was.',
};
const flashOf = (map: Record<string, string>, flash: string | undefined) =>
  flash && Object.hasOwn(map, flash) ? map[flash] : undefined;

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
  const grace = d.config.deletionGrace >= 86_400_000 ? `${graceDays} day${graceDays === 1 ? '' : 's'}` : 'a while';
  return (
    <>
      <section class="card" id="identifiers" aria-labelledby="identifiers-h">
        <h2 id="identifiers-h">Email address</h2>
        <Notice kind="success" text={flashOf(EMAIL_FLASH, flash)} />
        {recent ? (
          ''
        ) : (
          <p class="hint">
            Changing your email, username or deleting the account will first ask you to sign in again, to confirm it is
            you.
          </p>
        )}
        {pending ? (
          <div class="pending" id="email-pending">
            <p>
              <strong>Pending:</strong> <span safe>{pending}</span> is waiting for confirmation. Until you confirm it,
              your email address stays <span safe>{a.email ?? 'none'}</span>.
            </p>
            <form method="post" action="/settings/email/confirm" novalidate>
              <Field
                name="code"
                label="Code from the mail to your new address"
                autocomplete="one-time-code"
                maxlength={16}
              />
              <div class="field">
                <button type="submit" class="primary">
                  Confirm new address
                </button>
              </div>
            </form>
            <form method="post" action="/settings/email/cancel">
              <div class="field">
                <button type="submit">Cancel the change</button>
              </div>
            </form>
          </div>
        ) : (
          ''
        )}
        <form method="post" action="/settings/email" novalidate>
          <Field
            name="email"
            label="New email address"
            type="email"
            autocomplete="email"
            maxlength={320}
            hint="We send a link and a code to the new address; it counts only once you confirm it."
          />
          <button type="submit">Change email address</button>
        </form>
      </section>
      <section class="card" id="username" aria-labelledby="username-h">
        <h2 id="username-h">Username</h2>
        <Notice kind="success" text={flashOf(USERNAME_FLASH, flash)} />
        <form method="post" action="/settings/username" novalidate>
          <Field
            name="username"
            label="New username"
            autocomplete="username"
            maxlength={32}
            hint="3 to 32 letters, digits, dots, dashes or underscores, in one script."
          />
          <button type="submit">Change username</button>
        </form>
      </section>
      <section class="card" id="delete" aria-labelledby="delete-h">
        <h2 id="delete-h">Delete your account</h2>
        <Notice kind="success" text={flashOf(DELETE_FLASH, flash)} />
        <p safe>
          {`Every session is signed out at once. Your account and its data are removed after ${grace}; signing in before then cancels the deletion.`}
        </p>
        <form method="post" action="/settings/delete" novalidate>
          <Field
            name="confirm"
            label="Type your username to confirm"
            autocomplete="off"
            maxlength={64}
            hint={`Your username is ${a.username}.`}
          />
          <button type="submit">Delete my account</button>
        </form>
      </section>
    </>
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
    title: 'Confirm your new email address',
    productName: d.config.productName,
    children: (
      <>
        <Notice kind="error" text={o.error} />
        <Notice kind="success" text={o.done} />
        {o.token ? (
          <form method="post" action="/settings/email/verify">
            <input type="hidden" name="token" value={o.token} />
            <p>Use this address for your account from now on?</p>
            <button type="submit" class="primary">
              Confirm this address
            </button>
          </form>
        ) : (
          <p>
            <a href={o.signedIn ? '/settings' : '/login'}>{o.signedIn ? 'Back to settings' : 'Sign in'}</a>
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
      return send(reply, 200, verifyPage(d, { done: `Your account now uses ${email}.`, signedIn }));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      return send(reply, err.status, verifyPage(d, { error: pageMessage(err), signedIn }));
    }
  });
}
