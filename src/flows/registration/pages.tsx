import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { CaptchaSlot, type CaptchaSlotDeps } from '../../web/captcha-slot.tsx';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { captchaField, contextOf, field } from '../../web/request.ts';
import { pageReturnTo, type ReturnUrlDeps, withReturnTo } from '../../web/return-url.ts';
import type { RegistrationService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type RegistrationPagesDeps = Pick<Kernel, 'config'> & {
  registration: RegistrationService;
} & CaptchaSlotDeps &
  ReturnUrlDeps;

void Html;

/** An organization's context (/o/{slug}/register): new accounts join it and the page wears its name. */
export interface OrgContext {
  id: string;
  slug: string;
  displayName: string;
}

const orgPath = (org: OrgContext | undefined, page: string) =>
  org ? `/o/${encodeURIComponent(org.slug)}/${page}` : `/${page}`;

export function renderRegister(
  d: RegistrationPagesDeps,
  reply: FastifyReply,
  o: { username?: string; email?: string; error?: string; status?: number; org?: OrgContext; returnTo?: string },
) {
  return reply
    .status(o.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(
      Page({
        title: t('registration.title'),
        productName: o.org?.displayName ?? d.config.productName,
        orgPrefix: o.org ? `/o/${encodeURIComponent(o.org.slug)}` : '',
        children: (
          <>
            <Notice kind="error" text={o.error} />
            <form method="post" action={orgPath(o.org, 'register')} class="card" novalidate>
              <Field
                name="username"
                label={t('registration.username')}
                value={o.username}
                autocomplete="username"
                autofocus
                maxlength={32}
                hint={t('registration.username_hint')}
              />
              <Field
                name="email"
                label={t('registration.email')}
                type="email"
                value={o.email}
                autocomplete="email"
                maxlength={254}
              />
              <Field
                name="password"
                label={t('registration.password')}
                type="password"
                autocomplete="new-password"
                policy
              />
              <Field
                name="passwordConfirm"
                label={t('registration.password_confirm')}
                type="password"
                autocomplete="new-password"
              />
              {o.returnTo ? <input type="hidden" name="return_to" value={o.returnTo} /> : ''}
              {CaptchaSlot(d)}
              <button type="submit" class="primary">
                {th('registration.submit')}
              </button>
              <p class="links">
                <a href={withReturnTo(orgPath(o.org, 'login'), o.returnTo)}>{th('registration.have_account')}</a>
                <a href={orgPath(o.org, 'activate/resend')}>{th('signin.resend_activation')}</a>
              </p>
            </form>
          </>
        ),
      }),
    );
}

export function renderActivate(
  d: RegistrationPagesDeps,
  reply: FastifyReply,
  o: {
    token?: string;
    identifier?: string;
    error?: string;
    status?: number;
    org?: OrgContext;
    returnTo?: string;
  },
) {
  return reply
    .status(o.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(
      Page({
        title: t('registration.activate.title'),
        productName: o.org?.displayName ?? d.config.productName,
        orgPrefix: o.org ? `/o/${encodeURIComponent(o.org.slug)}` : '',
        children: (
          <>
            <Notice kind="error" text={o.error} />
            {o.token ? (
              // Opening the link only shows this button: mail scanners that follow links activate nothing.
              <form method="post" action={orgPath(o.org, 'activate')} class="card">
                <input type="hidden" name="token" value={o.token} />
                {o.returnTo ? <input type="hidden" name="return_to" value={o.returnTo} /> : ''}
                <p>{th('registration.activate.press')}</p>
                <button type="submit" class="primary">
                  {th('registration.activate.submit_link')}
                </button>
              </form>
            ) : (
              <form method="post" action={orgPath(o.org, 'activate')} class="card" novalidate>
                <p>{th('registration.activate.enter_code')}</p>
                {o.returnTo ? <input type="hidden" name="return_to" value={o.returnTo} /> : ''}
                <Field
                  name="identifier"
                  label={t('signin.identifier')}
                  value={o.identifier}
                  autocomplete="username"
                  maxlength={320}
                />
                <Field
                  name="code"
                  label={t('registration.activate.code')}
                  autocomplete="one-time-code"
                  maxlength={16}
                  hint={t('registration.activate.code_hint', { example: 'K7QM-2XRT' })}
                />
                <button type="submit" class="primary">
                  {th('registration.activate.submit_code')}
                </button>
                <p class="links">
                  <a href={orgPath(o.org, 'activate/resend')}>{th('signin.resend_activation')}</a>
                </p>
              </form>
            )}
          </>
        ),
      }),
    );
}

export async function registerPost(
  d: RegistrationPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  org?: OrgContext,
) {
  const input = {
    username: field(req.body, 'username', 64),
    email: field(req.body, 'email', 320),
    password: field(req.body, 'password', 1024),
    passwordConfirm: field(req.body, 'passwordConfirm', 1024),
    captcha: captchaField(req.body),
    orgId: org?.id,
  };
  // Carried through registration and activation to the sign-in that follows.
  const { returnTo } = pageReturnTo(d, field(req.body, 'return_to', 2048) || undefined);
  try {
    const { message } = await d.registration.register(input, contextOf(req));
    return reply
      .status(200)
      .type('text/html; charset=utf-8')
      .send(
        Page({
          title: t('registration.done.title'),
          productName: org?.displayName ?? d.config.productName,
          orgPrefix: org ? `/o/${encodeURIComponent(org.slug)}` : '',
          children: (
            <>
              <Notice kind="success" text={message} />
              <p>
                {th('registration.done.wait', {
                  link: (s) =>
                    `<a href="${Html.escapeHtml(withReturnTo(orgPath(org, 'activate'), returnTo))}">${s}</a>`,
                })}
              </p>
              <p class="links">
                <a href={orgPath(org, 'activate/resend')}>{th('signin.resend_activation')}</a>
              </p>
            </>
          ),
        }),
      );
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return renderRegister(d, reply, {
      username: input.username,
      email: input.email,
      error: pageMessage(err),
      status: err.status,
      org,
      returnTo,
    });
  }
}

export function registerRegistrationPages(app: FastifyInstance, d: RegistrationPagesDeps): void {
  app.get('/register', { schema: { hide: true } }, async (req, reply) => registerGet(d, req, reply));

  app.post('/register', { schema: { hide: true } }, async (req, reply) => registerPost(d, req, reply));

  app.get('/activate', { schema: { hide: true } }, async (req, reply) => activateGet(d, req, reply));
  app.post('/activate', { schema: { hide: true } }, async (req, reply) => activatePost(d, req, reply));
  app.get('/activate/resend', { schema: { hide: true } }, async (_req, reply) => renderResend(d, reply, {}));
  app.post('/activate/resend', { schema: { hide: true } }, async (req, reply) => resendPost(d, req, reply));
}

/** GET /register and /o/{slug}/register; `?return_to=` is kept for the sign-in after activation. */
export function registerGet(d: RegistrationPagesDeps, req: FastifyRequest, reply: FastifyReply, org?: OrgContext) {
  const { returnTo, error } = pageReturnTo(d, (req.query as Record<string, unknown>)?.return_to);
  return renderRegister(d, reply, { org, returnTo, error });
}

/** GET /activate and /o/{slug}/activate. */
export function activateGet(d: RegistrationPagesDeps, req: FastifyRequest, reply: FastifyReply, org?: OrgContext) {
  const q = req.query as Record<string, unknown>;
  const token = q?.token;
  const { returnTo } = pageReturnTo(d, q?.return_to);
  return renderActivate(d, reply, {
    token: typeof token === 'string' ? token.slice(0, 128) : undefined,
    org,
    returnTo,
  });
}

/** POST /activate and /o/{slug}/activate. */
export async function activatePost(
  d: RegistrationPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  org?: OrgContext,
) {
  const token = field(req.body, 'token', 128);
  const identifier = field(req.body, 'identifier', 320);
  const code = field(req.body, 'code', 32);
  const { returnTo } = pageReturnTo(d, field(req.body, 'return_to', 2048) || undefined);
  try {
    await d.registration.activate(token ? { token } : { identifier, code }, contextOf(req));
    return reply.redirect(withReturnTo(`${orgPath(org, 'login')}?msg=activated`, returnTo), 303);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    // A dead link falls back to the code form, which still works with a valid code.
    return renderActivate(d, reply, { identifier, error: pageMessage(err), status: err.status, org, returnTo });
  }
}

/** "Didn't get the activation mail?": the same answer for every identifier (defect 2 of issue 17). */
export function renderResend(
  d: RegistrationPagesDeps,
  reply: FastifyReply,
  o: { identifier?: string; error?: string; done?: string; status?: number; org?: OrgContext },
) {
  return reply
    .status(o.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(
      Page({
        title: t('registration.resend.title'),
        productName: o.org?.displayName ?? d.config.productName,
        orgPrefix: o.org ? `/o/${encodeURIComponent(o.org.slug)}` : '',
        children: (
          <>
            <Notice kind="error" text={o.error} />
            <Notice kind="success" text={o.done} />
            <form method="post" action={orgPath(o.org, 'activate/resend')} class="card" novalidate>
              <p>{th('registration.resend.intro')}</p>
              <Field
                name="identifier"
                label={t('signin.identifier')}
                value={o.identifier}
                autocomplete="username"
                autofocus
                maxlength={320}
              />
              {CaptchaSlot(d)}
              <button type="submit" class="primary">
                {th('registration.resend.submit')}
              </button>
              <p class="links">
                <a href={orgPath(o.org, 'activate')}>{th('registration.resend.enter_code')}</a>
                <a href={orgPath(o.org, 'login')}>{th('registration.resend.back')}</a>
              </p>
            </form>
          </>
        ),
      }),
    );
}

export async function resendPost(d: RegistrationPagesDeps, req: FastifyRequest, reply: FastifyReply, org?: OrgContext) {
  const identifier = field(req.body, 'identifier', 320);
  try {
    const { message } = await d.registration.resendActivation(
      { identifier, captcha: captchaField(req.body) },
      contextOf(req),
    );
    return renderResend(d, reply, { identifier, done: message, org });
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
    return renderResend(d, reply, { identifier, error: pageMessage(err), status: err.status, org });
  }
}
