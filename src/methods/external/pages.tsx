import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { type AccountPagesDeps, pageAuth, renderSettings } from '../../flows/account/pages.tsx';
import type { SessionService } from '../../flows/sessions/service.ts';
import { applySignedIn, continueSignIn } from '../../flows/signin/step-cookies.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import type { Authenticated } from '../../web/auth.ts';
import { clearCookie, readSignedCookie, setCookie, signCookieValue } from '../../web/cookies.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { authOf, contextOf, field, type RequestDeps } from '../../web/request.ts';
import { type ReturnUrlDeps, safeReturnTo, withReturnTo } from '../../web/return-url.ts';
import { ExternalError, type ExternalFailure } from './client.ts';
import { providerLogo } from './logos.tsx';
import { type ExternalAccounts, FLOW_TTL_MS, type Flow } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type ExternalPagesDeps = Pick<Kernel, 'config' | 'log' | 'secret' | 'audit' | 'metrics'> & {
  sessions: SessionService;
  external: ExternalAccounts;
} & AccountPagesDeps &
  RequestDeps &
  ReturnUrlDeps;

void Html;

const FLOW_COOKIE = 'latchkey_ext';
const WELCOME_COOKIE = 'latchkey_welcome';

const FAILURE: Record<ExternalFailure, { status: number; message: (provider: string) => string }> = {
  state_mismatch: { status: 400, message: (provider) => t('external.failure.state_mismatch', { provider }) },
  denied: { status: 400, message: (provider) => t('external.failure.denied', { provider }) },
  invalid_response: { status: 400, message: (provider) => t('external.failure.invalid_response', { provider }) },
  unavailable: { status: 502, message: (provider) => t('external.failure.unavailable', { provider }) },
};

/** Catalog keys of the linked-accounts card's outcomes. */
const FLASH: Record<string, string> = {
  linked: 'external.flash.linked',
  already_linked: 'external.flash.already_linked',
  unlinked: 'external.flash.unlinked',
};

const backToSignIn = () => ({ href: '/login', label: t('external.back_to_sign_in') });

function cookieOptions(d: ExternalPagesDeps, maxAgeS?: number) {
  return { httpOnly: true, sameSite: 'lax' as const, path: '/auth/', maxAge: maxAgeS, secure: d.config.https };
}

function setSigned(d: ExternalPagesDeps, reply: FastifyReply, name: string, value: unknown, maxAgeS: number) {
  setCookie(reply, name, signCookieValue(d.secret, name, pack(value)), cookieOptions(d, maxAgeS));
}

function readSigned<T>(d: ExternalPagesDeps, req: FastifyRequest, name: string): T | undefined {
  const value = readSignedCookie(req, d.secret, name);
  if (!value) return undefined;
  try {
    return JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

const pack = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function sendFlow(d: ExternalPagesDeps, reply: FastifyReply, url: string, flow: Flow) {
  setSigned(d, reply, FLOW_COOKIE, flow, FLOW_TTL_MS / 1000);
  return reply.redirect(url, 303);
}

/**
 * After a POST, a cross-origin 303 would be blocked by the CSP's form-action 'self', so the POST
 * answers with a page that moves on by itself (Refresh header) and has a link as a fallback.
 */
function handOff(d: ExternalPagesDeps, reply: FastifyReply, url: string, flow: Flow, providerName: string) {
  setSigned(d, reply, FLOW_COOKIE, flow, FLOW_TTL_MS / 1000);
  return reply
    .status(200)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('refresh', `0;url=${url}`)
    .send(
      Page({
        title: t('external.continue_to', { provider: providerName }),
        productName: d.config.productName,
        children: (
          <p>
            <a href={url} id="continue-external">
              {th('external.continue_to', { provider: providerName })}
            </a>
          </p>
        ),
      }),
    );
}

/** A plain page for a failed attempt, always with a way back. */
function problemPage(
  d: ExternalPagesDeps,
  reply: FastifyReply,
  status: number,
  title: string,
  message: string,
  back: { href: string; label: string },
) {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      Page({
        title,
        productName: d.config.productName,
        children: (
          <>
            <Notice kind="error" text={message} />
            <p>
              <a href={back.href} safe>
                {back.label}
              </a>
            </p>
          </>
        ),
      }),
    );
}

export function providerButtons(d: ExternalPagesDeps, o: { returnTo?: string } = {}): string {
  const providers = d.external.providers;
  if (!providers.length) return '';
  return (
    <section class="card" aria-labelledby="ext-h">
      <h2 id="ext-h">{th('external.or_continue_with')}</h2>
      <div class="provider-buttons">
        {providers.map((p) => (
          <a href={withReturnTo(`/auth/${encodeURIComponent(p.id)}/start`, o.returnTo)} data-provider={p.id}>
            {(providerLogo(p.id) as 'safe') ?? (
              <span class="provider-badge" aria-hidden="true" safe>
                {p.badge}
              </span>
            )}
            <span>{th('external.continue_with', { provider: p.name })}</span>
          </a>
        ))}
      </div>
    </section>
  ) as string;
}

export async function linkedSection(
  d: ExternalPagesDeps,
  auth: Authenticated,
  flash: string | undefined,
): Promise<string> {
  const linked = await d.external.list(auth.account.id);
  if (!linked.length && !d.external.providers.length) return '';
  const linkedIds = new Set(linked.map((l) => l.provider));
  return (
    <section class="card" aria-labelledby="linked-h" id="linked-accounts">
      <h2 id="linked-h">{th('external.linked_heading')}</h2>
      <Notice kind="success" text={flash && Object.hasOwn(FLASH, flash) ? t(FLASH[flash] as string) : undefined} />
      {linked.length ? (
        <ul class="sessions">
          {linked.map((l) => (
            <li data-identity={l.provider}>
              <strong safe>{l.providerName}</strong>
              <span class="hint" safe>
                {` ${l.displayName ?? ''}${l.email ? ` · ${l.email}` : ''} · ${t('external.linked_on', { date: l.linkedAt.slice(0, 10) })}`}
              </span>{' '}
              <form method="post" action={`/settings/identities/${encodeURIComponent(l.id)}/unlink`} class="inline">
                <button
                  type="submit"
                  class="link"
                  aria-label={t('external.unlink_provider', { provider: l.providerName })}
                >
                  {th('external.unlink')}
                </button>
              </form>
            </li>
          ))}
        </ul>
      ) : (
        <p class="hint">{th('external.none_linked')}</p>
      )}
      {d.external.providers
        .filter((p) => !linkedIds.has(p.id))
        .map((p) => (
          <form method="post" action={`/settings/identities/link/${encodeURIComponent(p.id)}`} class="inline">
            <button type="submit" data-link={p.id}>
              {th('external.link_provider', { provider: p.name })}
            </button>{' '}
          </form>
        ))}
      <p class="hint">{th('external.reauth_hint')}</p>
    </section>
  ) as string;
}

export function registerExternalPages(app: FastifyInstance, d: ExternalPagesDeps): void {
  app.get('/auth/:provider/start', { schema: { hide: true } }, async (req, reply) => {
    const { provider } = req.params as { provider: string };
    const p = d.external.provider(provider);
    if (!p)
      return problemPage(
        d,
        reply,
        404,
        t('external.provider_not_found'),
        t('external.provider_not_enabled'),
        backToSignIn(),
      );
    const q = req.query as Record<string, unknown>;
    let returnTo: string | undefined;
    try {
      returnTo = safeReturnTo(d, q.return_to);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return problemPage(d, reply, 400, t('external.not_started'), pageMessage(err), backToSignIn());
    }
    try {
      const { url, flow } = await d.external.begin(p.id, { mode: 'signin' }, returnTo);
      return sendFlow(d, reply, url, flow);
    } catch (err) {
      if (!(err instanceof ExternalError)) throw err;
      d.log.warn({ provider: p.id, kind: err.kind, reason: err.message }, 'external sign-in could not start');
      return problemPage(
        d,
        reply,
        FAILURE[err.kind].status,
        t('external.failed'),
        FAILURE[err.kind].message(p.name),
        backToSignIn(),
      );
    }
  });

  app.get('/auth/:provider/callback', { schema: { hide: true } }, async (req, reply) => {
    const { provider } = req.params as { provider: string };
    const p = d.external.provider(provider);
    if (!p)
      return problemPage(
        d,
        reply,
        404,
        t('external.provider_not_found'),
        t('external.provider_not_enabled'),
        backToSignIn(),
      );
    const flow = readSigned<Flow>(d, req, FLOW_COOKIE);
    // One attempt per cookie: whatever happens next, the browser must start again.
    clearCookie(reply, FLOW_COOKIE, cookieOptions(d));
    const back = flow?.mode === 'link' ? { href: '/settings', label: t('external.back_to_settings') } : backToSignIn();
    const ctx = contextOf(req);
    try {
      const callbackUrl = new URL(req.url, d.config.publicOrigin);
      const auth = await authOf(d, req);
      const outcome = await d.external.finish(p.id, flow, callbackUrl, auth, ctx);
      if (outcome.kind === 'email_taken')
        return problemPage(
          d,
          reply,
          409,
          t('external.email_taken_title'),
          t('external.email_taken', { provider: p.name }),
          { href: '/login', label: t('external.sign_in_to_account') },
        );
      if (outcome.kind === 'linked')
        return reply.redirect(`/settings?done=${outcome.already ? 'already_linked' : 'linked'}#linked-accounts`, 303);
      // BF-05: an account with a second factor goes through the step, like a password sign-in.
      if (outcome.signedIn.status !== 'signed_in') return continueSignIn(d, reply, outcome.signedIn);
      applySignedIn(d, reply, outcome.signedIn);
      if (outcome.created) {
        setSigned(d, reply, WELCOME_COOKIE, { a: outcome.signedIn.account.id, p: p.id, r: flow?.returnTo }, 3600);
        return reply.redirect('/auth/welcome', 303);
      }
      return reply.redirect(flow?.returnTo ?? '/settings', 303);
    } catch (err) {
      if (err instanceof ExternalError) {
        d.log.warn(
          { provider: p.id, kind: err.kind, reason: err.message, providerError: err.providerError },
          'external sign-in failed',
        );
        await d.audit.record('sign_in.failed', ctx, { details: { method: `external:${p.id}`, reason: err.kind } });
        d.metrics.signIns.inc({ method: `external:${p.id}`, outcome: 'failure' });
        return problemPage(
          d,
          reply,
          FAILURE[err.kind].status,
          t('external.failed'),
          FAILURE[err.kind].message(p.name),
          back,
        );
      }
      if (err instanceof AppError) {
        if (err.code === 'reauthentication_required') return reauthenticate(d, req, reply);
        if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
        return problemPage(d, reply, err.status, t('external.failed'), pageMessage(err), back);
      }
      throw err;
    }
  });

  app.get('/auth/welcome', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const w = readSigned<{ a: string; p: string; r?: string }>(d, req, WELCOME_COOKIE);
    if (!w || w.a !== auth.account.id) return reply.redirect('/settings', 303);
    return renderWelcome(d, reply, auth, w.p);
  });

  app.post('/auth/welcome', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const w = readSigned<{ a: string; p: string; r?: string }>(d, req, WELCOME_COOKIE);
    if (!w || w.a !== auth.account.id) return reply.redirect('/settings', 303);
    const username = field(req.body, 'username', 200);
    try {
      if (username && username !== auth.account.username)
        await d.external.changeUsername(auth.account.id, username, contextOf(req));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return renderWelcome(d, reply, auth, w.p, { error: pageMessage(err), username, status: err.status });
    }
    clearCookie(reply, WELCOME_COOKIE, cookieOptions(d));
    return reply.redirect(w.r ?? '/settings', 303);
  });

  app.post('/settings/identities/link/:provider', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const { provider } = req.params as { provider: string };
    const p = d.external.provider(provider);
    if (!p) return renderSettings(d, reply, auth, { error: t('external.provider_not_enabled'), status: 404 });
    try {
      const { url, flow } = await d.external.begin(p.id, { mode: 'link', auth });
      return handOff(d, reply, url, flow, p.name);
    } catch (err) {
      if (err instanceof AppError && err.code === 'reauthentication_required') return reauthenticate(d, req, reply);
      if (err instanceof ExternalError)
        return renderSettings(d, reply, auth, {
          error: FAILURE[err.kind].message(p.name),
          status: FAILURE[err.kind].status,
        });
      throw err;
    }
  });

  app.post('/settings/identities/:id/unlink', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const { id } = req.params as { id: string };
    try {
      await d.external.unlink(auth, id.slice(0, 64), contextOf(req));
      return reply.redirect('/settings?done=unlinked#linked-accounts', 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'reauthentication_required') return reauthenticate(d, req, reply);
      return renderSettings(d, reply, auth, { error: pageMessage(err), status: err.status });
    }
  });
}

/**
 * SES-07 on the pages: the sign-in is too old, so this session ends and the user signs in again;
 * /login brings them back to settings, where they can repeat the change.
 */
async function reauthenticate(d: ExternalPagesDeps, req: FastifyRequest, reply: FastifyReply) {
  const auth = await authOf(d, req);
  if (auth) await d.sessions.signOut(auth.session, contextOf(req));
  return reply.redirect('/login?msg=session_ended', 303);
}

function renderWelcome(
  d: ExternalPagesDeps,
  reply: FastifyReply,
  auth: Authenticated,
  providerId: string,
  o: { error?: string; username?: string; status?: number } = {},
) {
  const a = auth.account;
  const providerName = d.external.provider(providerId)?.name ?? providerId;
  return reply
    .status(o.status ?? 200)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      Page({
        title: t('external.welcome_title'),
        productName: d.config.productName,
        signedIn: { username: a.username },
        children: (
          <>
            <Notice kind="error" text={o.error} />
            <form method="post" action="/auth/welcome" class="card" novalidate>
              <p>
                {a.display_name
                  ? th('external.welcome_created_named', { provider: providerName, name: a.display_name })
                  : th('external.welcome_created', { provider: providerName })}
              </p>
              <Field
                name="username"
                label={t('external.username_label')}
                value={o.username ?? a.username}
                autocomplete="username"
                maxlength={32}
                hint={t('external.welcome_username_hint')}
              />
              <dl>
                <dt>{th('external.email_label')}</dt>
                <dd safe>{a.email ?? t('external.email_none', { provider: providerName })}</dd>
              </dl>
              <p class="hint">{th('external.no_password_hint', { provider: providerName })}</p>
              <button type="submit" class="primary">
                {th('external.continue')}
              </button>
            </form>
          </>
        ),
      }),
    );
}
