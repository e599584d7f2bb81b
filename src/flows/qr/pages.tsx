import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { formatDateTime, t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { passkeyScripts } from '../../methods/passkey/scripts.tsx';
import type { Authenticated } from '../../web/auth.ts';
import { clearCookie, readCookie, setCookie } from '../../web/cookies.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { leadToReauthentication, type ReauthDeps } from '../../web/reauth.ts';
import { authOf, contextOf, field, type RequestDeps } from '../../web/request.ts';
import { pageReturnTo, withReturnTo } from '../../web/return-url.ts';
import { type AccountPagesDeps, pageAuth } from '../account/pages.tsx';
import { continueSignIn, type StepCookieDeps } from '../signin/step-cookies.ts';
import { clearBinding, readBinding, setBinding, startedView } from './api.ts';
import { type ApprovalView, formatCode, normalizeCode, type QrLoginService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type QrPagesDeps = Pick<Kernel, 'config'> & { qr: QrLoginService } & RequestDeps &
  ReauthDeps &
  AccountPagesDeps &
  StepCookieDeps;

void Html;

function send(reply: FastifyReply, status: number, body: string) {
  return reply.status(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
}

function page(d: QrPagesDeps, title: string, children: JSX.Element, signedIn?: Authenticated | null, script = true) {
  const body = Page({
    title,
    productName: d.config.productName,
    signedIn: signedIn ? { username: signedIn.account.username } : null,
    children: (
      <>
        {children as 'safe'}
        {script ? <script src="/static/qr.js" defer></script> : ''}
      </>
    ),
  });
  return body;
}

function notFound(d: QrPagesDeps, reply: FastifyReply) {
  return send(
    reply,
    404,
    page(d, t('qr.not_found_title'), <Notice kind="error" text={t('qr.not_found')} />, null, false),
  );
}

/** The new browser's page before a request exists: one button (JavaScript presses it at once). */
function startPage(d: QrPagesDeps, reply: FastifyReply, o: { error?: string; info?: string; status?: number } = {}) {
  return send(
    reply,
    o.status ?? 200,
    page(
      d,
      t('qr.title'),
      <>
        <Notice kind="error" text={o.error} />
        <Notice kind="info" text={o.info} />
        <form
          method="post"
          action="/login/qr"
          class="card"
          id="qr-start"
          data-auto={o.error || o.info ? undefined : '1'}
        >
          <p>{th('qr.start_intro')}</p>
          <input type="hidden" name="action" value="start" />
          <button type="submit" class="primary">
            {th('qr.show_code')}
          </button>
          <p class="links">
            <a href="/login">{th('qr.password_instead')}</a>
          </p>
        </form>
      </>,
    ),
  );
}

/** The request on the new browser: QR, typed code, number; the continue button works without JavaScript. */
async function waitingPage(
  d: QrPagesDeps,
  reply: FastifyReply,
  o: {
    id: string;
    number: number;
    view?: Awaited<ReturnType<typeof startedView>>;
    info?: string;
    status?: number;
  },
) {
  const v = o.view;
  return send(
    reply,
    o.status ?? 200,
    page(
      d,
      t('qr.title'),
      <>
        <Notice kind="info" text={o.info} />
        <section
          class="card qr-wait"
          id="qr-wait"
          data-id={o.id}
          data-interval={String(v?.interval ?? Math.ceil(d.config.qr.interval / 1000))}
          aria-labelledby="qr-h"
        >
          <h2 id="qr-h">{th('qr.wait_title')}</h2>
          {v ? (
            <>
              <ol>
                <li>{th('qr.step_scan')}</li>
                <li>{th('qr.step_type', { url: `${d.config.publicUrl}/qr`, span: (s) => `<span>${s}</span>` })}</li>
                <li>{th('qr.step_pick')}</li>
              </ol>
              <div class="qr-box">{v.qrSvg as 'safe'}</div>
              <p>
                {th('qr.code')}{' '}
                <strong class="qr-code" id="qr-code" safe>
                  {v.code}
                </strong>
              </p>
            </>
          ) : (
            <p>{th('qr.opened')}</p>
          )}
          <p>
            {th('qr.number')}{' '}
            <strong class="qr-number" id="qr-number" safe>
              {String(o.number)}
            </strong>
          </p>
          <p class="hint" id="qr-status" role="status" aria-live="polite">
            {th('qr.waiting')}
          </p>
          <form method="post" action="/login/qr" id="qr-continue">
            <input type="hidden" name="action" value="continue" />
            <input type="hidden" name="id" value={o.id} />
            <button type="submit" class="primary">
              {th('qr.continue_approved')}
            </button>
          </form>
          <form method="post" action="/login/qr" id="qr-rotate" hidden>
            <input type="hidden" name="action" value="start" />
            <input type="hidden" name="replaces" value={o.id} />
            <button type="submit">{th('qr.new_code')}</button>
          </form>
          <p class="links">
            <a href="/login">{th('qr.password_instead')}</a>
          </p>
        </section>
      </>,
    ),
  );
}

/** The phone's page: who asks, from where, which number, password, approve or (by default) decline. */
function approvalPage(
  d: QrPagesDeps,
  reply: FastifyReply,
  auth: Authenticated,
  v: ApprovalView,
  secret: string,
  o: { error?: string; status?: number } = {},
) {
  const when = formatDateTime(Date.parse(v.createdAt));
  return send(
    reply,
    o.status ?? 200,
    page(
      d,
      t('qr.approve_title'),
      <>
        <Notice kind="error" text={o.error} />
        <form method="post" action="/qr/decide" class="card" novalidate>
          <p>
            {th('qr.approve_intro', {
              username: auth.account.username,
              strong: (s) => `<strong>${s}</strong>`,
            })}
          </p>
          <dl>
            <dt>{th('qr.browser')}</dt>
            <dd safe>{t('qr.browser_on', { browser: v.browser, os: v.os })}</dd>
            <dt>{th('qr.ip')}</dt>
            <dd safe>{v.ip ?? t('qr.unknown')}</dd>
            <dt>{th('qr.when')}</dt>
            <dd safe>{when}</dd>
          </dl>
          {v.differentNetwork ? (
            <p class="notice error qr-warning" role="alert">
              {th('qr.network_warning')}
            </p>
          ) : (
            ''
          )}
          <fieldset>
            <legend>{th('qr.which_number')}</legend>
            {v.choices.map((n) => (
              <div class="field check">
                <input type="radio" id={`n-${n}`} name="number" value={String(n)} required />
                <label for={`n-${n}`} safe>
                  {String(n)}
                </label>
              </div>
            ))}
          </fieldset>
          <Field name="password" label={t('qr.password')} type="password" autocomplete="current-password" />
          {v.passkey ? (
            <div data-passkey-qr>
              <input type="hidden" name="webauthn" value="" />
              <button type="button" data-passkey-button hidden>
                {th('qr.confirm_passkey')}
              </button>
              <p class="hint" data-passkey-status role="status" aria-live="polite"></p>
              <p class="hint" data-passkey-nojs>
                {th('qr.passkey_nojs')}
              </p>
              {passkeyScripts()}
            </div>
          ) : (
            ''
          )}
          <input type="hidden" name="id" value={v.id} />
          <input type="hidden" name="secret" value={secret} />
          {/* The first submit button is the one Enter presses: declining is the default (QR-04). */}
          <div class="buttons">
            <button type="submit" name="decision" value="decline" class="primary">
              {th('qr.decline')}
            </button>
            <button type="submit" name="decision" value="approve">
              {th('qr.approve')}
            </button>
          </div>
        </form>
      </>,
      auth,
      false,
    ),
  );
}

/** Where the phone starts: typed code, or the in-page scanner (camera or a photo). */
function phoneStartPage(
  d: QrPagesDeps,
  reply: FastifyReply,
  auth: Authenticated,
  o: { error?: string; code?: string; status?: number } = {},
) {
  return send(
    reply,
    o.status ?? 200,
    page(
      d,
      t('qr.phone_title'),
      <>
        <Notice kind="error" text={o.error} />
        <form method="post" action="/qr" class="card" novalidate>
          <p>{th('qr.phone_intro')}</p>
          <Field
            name="code"
            label={t('qr.code_label')}
            value={o.code}
            autocomplete="off"
            maxlength={16}
            hint={t('qr.code_hint')}
          />
          <button type="submit" class="primary">
            {th('qr.continue')}
          </button>
        </form>
        <section class="card" id="qr-scanner" aria-labelledby="scan-h" hidden>
          <h2 id="scan-h">{th('qr.scan_title')}</h2>
          <button type="button" id="qr-camera">
            {th('qr.scan_camera')}
          </button>
          <video id="qr-video" muted hidden aria-label={t('qr.camera_view')}></video>
          <div class="field">
            <label for="qr-photo">{th('qr.photo')}</label>
            <input type="file" id="qr-photo" accept="image/*" />
          </div>
          <p class="hint" id="qr-scan-status" role="status" aria-live="polite"></p>
        </section>
        <script src="/static/vendor/jsqr.js" defer></script>
      </>,
      auth,
    ),
  );
}

function donePage(
  d: QrPagesDeps,
  reply: FastifyReply,
  title: string,
  kind: 'success' | 'info' | 'error',
  text: string,
  status = 200,
  auth?: Authenticated | null,
) {
  return send(
    reply,
    status,
    page(
      d,
      title,
      <>
        <Notice kind={kind} text={text} />
        <p>
          <a href={auth ? '/settings' : '/login'}>{auth ? th('qr.back_settings') : th('qr.go_signin')}</a>
        </p>
      </>,
      auth,
      false,
    ),
  );
}

const SECRET = /^[A-Za-z0-9_-]{43}$/;

// An app's sign-in (`return_to`) outlives the QR pages in a cookie of their own: the start,
// waiting and no-JS continue pages and the script's poll all end at /login/qr, which sends the
// signed-in browser on. The address is checked again when read.
const RETURN_COOKIE = 'latchkey_qr_return';
const returnOptions = (d: Pick<Kernel, 'config'>) => ({
  httpOnly: true,
  sameSite: 'lax' as const,
  path: '/login/qr',
  secure: d.config.https,
  maxAge: 600,
});

function keepReturn(d: Pick<Kernel, 'config'>, reply: FastifyReply, returnTo: string): void {
  setCookie(reply, RETURN_COOKIE, Buffer.from(returnTo).toString('base64url'), returnOptions(d));
}

function takeReturn(d: Pick<Kernel, 'config'>, req: FastifyRequest, reply: FastifyReply): string | undefined {
  const raw = readCookie(req, RETURN_COOKIE);
  if (!raw) return undefined;
  clearCookie(reply, RETURN_COOKIE, returnOptions(d));
  return pageReturnTo(d, Buffer.from(raw, 'base64url').toString('utf8')).returnTo;
}

/** jsQR's browser build, served from this origin (no CDN), read once. */
function jsqrSource(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve('jsqr/dist/jsQR.js'), 'utf8');
}

export function registerQrPages(app: FastifyInstance, d: QrPagesDeps): void {
  const jsqr = jsqrSource();
  app.get('/static/vendor/jsqr.js', { schema: { hide: true } }, async (_req, reply) =>
    reply
      .header('cache-control', 'public, max-age=3600')
      .header('x-content-type-options', 'nosniff')
      .type('text/javascript; charset=utf-8')
      .send(jsqr),
  );

  app.get('/login/qr', { schema: { hide: true } }, async (req, reply) => {
    if (!d.qr.enabled) return notFound(d, reply);
    const { returnTo } = pageReturnTo(d, (req.query as Record<string, unknown> | undefined)?.return_to);
    if (await authOf(d, req)) return reply.redirect(returnTo ?? takeReturn(d, req, reply) ?? '/settings', 303);
    if (returnTo) keepReturn(d, reply, returnTo);
    return startPage(d, reply);
  });

  app.post('/login/qr', { schema: { hide: true } }, async (req, reply) => {
    if (!d.qr.enabled) return notFound(d, reply);
    const action = field(req.body, 'action', 16);
    const ctx = contextOf(req);
    try {
      if (action === 'continue') {
        const id = field(req.body, 'id', 64);
        const a = await d.qr.poll(id, readBinding(d, req), ctx, { pace: false });
        if (a.status === 'approved') {
          clearBinding(d, reply);
          return continueSignIn(d, reply, a.result, takeReturn(d, req, reply) ?? '/settings');
        }
        if (a.status === 'declined') return startPage(d, reply, { error: t('qr.declined_on_phone'), status: 400 });
        if (a.status === 'shown')
          return waitingPage(d, reply, {
            id,
            number: a.number,
            info: t('qr.not_yet'),
          });
        if (a.status === 'pending') {
          // The secret is kept only as a hash, so the QR cannot be shown again: a fresh one replaces it.
          const s = await d.qr.start(ctx, readBinding(d, req), id);
          setBinding(d, reply, s.binding);
          return waitingPage(d, reply, {
            id: s.id,
            number: s.number,
            view: await startedView(s),
            info: t('qr.not_yet_fresh'),
          });
        }
        return startPage(d, reply, { info: t('qr.expired') });
      }
      const replaces = field(req.body, 'replaces', 64) || undefined;
      const s = await d.qr.start(ctx, readBinding(d, req), replaces);
      setBinding(d, reply, s.binding);
      return waitingPage(d, reply, { id: s.id, number: s.number, view: await startedView(s), status: 200 });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      if (err.code === 'not_found') return startPage(d, reply, { info: t('qr.expired'), status: 400 });
      return startPage(d, reply, { error: pageMessage(err), status: err.status });
    }
  });

  const phonePage = async (req: FastifyRequest, reply: FastifyReply, secret: string, fromCode: boolean) => {
    const auth = await authOf(d, req);
    if (!auth) {
      // The secret stays in this site's own path; nothing is stored before the phone signs in.
      const next = fromCode ? '/qr' : `/qr/${secret}`;
      return reply.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
    }
    try {
      const v = await d.qr.open(secret, auth, contextOf(req));
      return approvalPage(d, reply, auth, v, secret);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      if (fromCode)
        return phoneStartPage(d, reply, auth, {
          error: pageMessage(err),
          status: err.status,
          code: normalizeCode(secret) ? secret.slice(0, 16) : undefined,
        });
      return donePage(d, reply, t('qr.invalid_title'), 'error', pageMessage(err), err.status, auth);
    }
  };

  app.get('/qr', { schema: { hide: true } }, async (req, reply) => {
    if (!d.qr.enabled) return notFound(d, reply);
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    if (!(await d.qr.enabledFor(auth.account)))
      return donePage(d, reply, t('qr.phone_title'), 'error', t('qr.off_for_org'), 403, auth);
    return phoneStartPage(d, reply, auth);
  });

  app.post('/qr', { schema: { hide: true } }, async (req, reply) => {
    if (!d.qr.enabled) return notFound(d, reply);
    const code = field(req.body, 'code', 64);
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    if (!code.trim()) return phoneStartPage(d, reply, auth, { error: t('qr.type_code'), status: 400 });
    return phonePage(req, reply, code, true);
  });

  app.get('/qr/:secret', { schema: { hide: true } }, async (req, reply) => {
    if (!d.qr.enabled) return notFound(d, reply);
    const { secret } = req.params as { secret: string };
    if (!SECRET.test(secret)) {
      const auth = await authOf(d, req);
      return donePage(d, reply, t('qr.invalid_title'), 'error', t('qr.used'), 400, auth);
    }
    return phonePage(req, reply, secret, false);
  });

  app.post('/qr/decide', { schema: { hide: true } }, async (req, reply) => {
    if (!d.qr.enabled) return notFound(d, reply);
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const id = field(req.body, 'id', 64);
    const secret = field(req.body, 'secret', 64);
    const decision = field(req.body, 'decision', 16);
    const ctx = contextOf(req);
    try {
      if (decision !== 'approve') {
        await d.qr.decline(id, secret, auth, ctx);
        return donePage(d, reply, t('qr.declined_title'), 'info', t('qr.declined'), 200, auth);
      }
      const raw = field(req.body, 'number', 4);
      const number = /^\d{1,2}$/.test(raw) ? Number(raw) : -1;
      if (number < 0) {
        const v = await d.qr.open(secret, auth, ctx);
        return approvalPage(d, reply, auth, v, secret, {
          error: t('qr.pick_number'),
          status: 400,
        });
      }
      // QR-08: the passkey's answer (filled in by the page's script) stands in for the password.
      const webauthnField = field(req.body, 'webauthn', 32_768);
      let webauthn: unknown;
      if (webauthnField) {
        try {
          webauthn = JSON.parse(webauthnField);
        } catch {
          webauthn = {};
        }
      }
      await d.qr.approve(
        id,
        webauthn === undefined
          ? { secret, number, password: field(req.body, 'password', 1024) }
          : { secret, number, webauthn },
        auth,
        ctx,
      );
      return donePage(d, reply, t('qr.approved_title'), 'success', t('qr.approved'), 200, auth);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      if (err.code === 'reauthentication_required') {
        const back = SECRET.test(secret) ? `/qr/${secret}` : '/qr';
        return leadToReauthentication(d, req, reply, back);
      }
      if (err.code === 'current_password_wrong' || err.code === 'passkey_failed') {
        try {
          const v = await d.qr.open(secret, auth, ctx);
          return approvalPage(d, reply, auth, v, secret, { error: pageMessage(err), status: err.status });
        } catch {}
      }
      const title = err.code === 'invalid_code' ? t('qr.cancelled_title') : t('qr.not_approved_title');
      return donePage(d, reply, title, 'error', pageMessage(err), err.status, auth);
    }
  });

  app.get('/qr/report/:token', { schema: { hide: true } }, async (req, reply) => {
    const { token } = req.params as { token: string };
    return send(
      reply,
      200,
      page(
        d,
        t('qr.report_title'),
        <form method="post" action={`/qr/report/${SECRET.test(token) ? token : 'invalid'}`} class="card">
          <p>{th('qr.report_intro')}</p>
          <button type="submit" class="primary">
            {th('qr.report_button')}
          </button>
        </form>,
        null,
        false,
      ),
    );
  });

  app.post('/qr/report/:token', { schema: { hide: true } }, async (req, reply) => {
    const { token } = req.params as { token: string };
    try {
      await d.qr.report(token, contextOf(req));
      return donePage(d, reply, t('qr.report_title'), 'success', t('qr.reported'), 200, await authOf(d, req));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return donePage(d, reply, t('qr.report_title'), 'error', pageMessage(err), err.status, await authOf(d, req));
    }
  });

  app.post('/admin/organization/qr-login', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const slug = field(req.body, 'org', 40);
    const back = `/admin/organization?org=${encodeURIComponent(slug)}`;
    try {
      await d.qr.setForOrganization(slug, field(req.body, 'qrLogin', 4) === 'on', auth, contextOf(req));
      return reply.redirect(`${back}&saved=1`, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, back);
      return donePage(d, reply, t('qr.not_allowed_title'), 'error', pageMessage(err), err.status, auth);
    }
  });
}

/** Below the sign-in form: the way to the QR page (when QR sign-in is on). */
export function qrLoginLink(d: { qr: QrLoginService }, o: { returnTo?: string } = {}): string {
  if (!d.qr.enabled) return '';
  return (
    <p class="links qr-link">
      <a href={withReturnTo('/login/qr', o.returnTo)}>{th('qr.title')}</a>
    </p>
  ) as string;
}

/** The /settings section: approve a new browser from this device. */
export async function qrSettingsSection(d: { qr: QrLoginService }, auth: Authenticated): Promise<string> {
  if (!(await d.qr.enabledFor(auth.account))) return '';
  return (
    <section class="card" aria-labelledby="qr-h">
      <h2 id="qr-h">{th('qr.phone_title')}</h2>
      <p>{th('qr.settings_intro')}</p>
      <p>
        <a href="/qr">{th('qr.phone_title')}</a>
      </p>
    </section>
  ) as string;
}

/** The organization admin page's switch, beside the recovery settings. */
export async function qrOrgSwitch(d: { qr: QrLoginService }, org: { id: string; slug: string }): Promise<string> {
  if (!d.qr.enabled) return '';
  const enabled = await d.qr.enabledFor({ org_id: org.id });
  const orgSlug = org.slug;
  return (
    <form method="post" action="/admin/organization/qr-login" class="card">
      <h2>{th('qr.org_title')}</h2>
      <input type="hidden" name="org" value={orgSlug} />
      <div class="field check">
        <input type="checkbox" id="f-qrLogin" name="qrLogin" value="on" checked={enabled} />
        <label for="f-qrLogin">{th('qr.org_switch')}</label>
      </div>
      <button type="submit">{th('qr.save')}</button>
    </form>
  ) as string;
}

export { formatCode };
