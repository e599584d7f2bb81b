import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { CaptchaSlot, type CaptchaSlotDeps } from '../../web/captcha-slot.tsx';
import type { PageExtras, SectionError } from '../../web/extras.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { type OrgView, orgName, orgPrefix } from '../../web/org-context.ts';
import { captchaField, contextOf, field } from '../../web/request.ts';
import { type AccountPagesDeps, pageAuth, renderSettings } from '../account/pages.tsx';
import type { Organization, OrganizationService } from '../organizations/service.ts';
import { chooserIntro, recoveryChooser } from './chooser.tsx';
import { codeErrorView, triesFrom } from './code-tries.ts';
import { RESET_LINK_PATH, type RecoveryMethodDeps, type RecoveryMethods } from './method.ts';
import { type RecoveryPagePartsDeps, renderResetDone, resetHtml } from './page-parts.tsx';
import type { RecoveryService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type RecoveryPagesDeps = Pick<Kernel, 'config'> & {
  pages: Pick<PageExtras, 'resetChoices'>;
  recovery: RecoveryService;
  recoveryMethods: RecoveryMethods;
  organizations: OrganizationService;
} & CaptchaSlotDeps &
  AccountPagesDeps &
  RecoveryPagePartsDeps &
  RecoveryMethodDeps;

void Html;

/** `org` (default: the default organization) decides which methods the form offers. */
export async function renderForgot(
  d: RecoveryPagesDeps,
  reply: FastifyReply,
  o: { identifier?: string; error?: string; status?: number; org?: Organization },
) {
  const org = o.org ?? (await d.organizations.defaultOrg());
  const prefix = orgPrefix(org);
  const action = `${prefix}/forgot-password`;
  return resetHtml(
    reply,
    o.status ?? 200,
    Page({
      title: t('recovery.forgot_title'),
      productName: orgName(org, d.config.productName),
      orgPrefix: prefix,
      children: (
        <>
          <Notice kind="error" text={o.error} />
          <form method="post" action={action} class="card" novalidate>
            <p safe>{chooserIntro(org, d.recoveryMethods)}</p>
            <Field
              name="identifier"
              label={t('recovery.identifier_label')}
              value={o.identifier}
              autocomplete="username"
              autofocus
              maxlength={320}
            />
            {recoveryChooser(org, d.recoveryMethods)}
            {CaptchaSlot(d)}
            <button type="submit" class="primary">
              {org.recovery.methods.length > 1 ? th('recovery.continue') : th('recovery.send_link')}
            </button>
            <p class="links">
              <a href={`${prefix}/change-password`}>{th('recovery.have_code')}</a>
              <a href="/support">{th('recovery.contact_support')}</a>
              <a href={`${prefix}/login`}>{th('recovery.back_to_sign_in')}</a>
            </p>
          </form>
        </>
      ),
    }),
  );
}

function renderSent(d: RecoveryPagesDeps, reply: FastifyReply, message: string, org?: OrgView) {
  const prefix = orgPrefix(org);
  return resetHtml(
    reply,
    200,
    Page({
      title: t('recovery.sent_title'),
      productName: orgName(org, d.config.productName),
      orgPrefix: prefix,
      children: (
        <>
          <Notice kind="success" text={message} />
          <p class="links">
            <a href={`${prefix}/change-password`}>{th('recovery.have_code')}</a>
            <a href={`${prefix}/login`}>{th('recovery.back_to_sign_in')}</a>
          </p>
        </>
      ),
    }),
  );
}

function renderDeadLink(d: RecoveryPagesDeps, reply: FastifyReply, status: number, org?: OrgView) {
  const prefix = orgPrefix(org);
  return resetHtml(
    reply,
    status,
    Page({
      title: t('recovery.dead_title'),
      productName: orgName(org, d.config.productName),
      orgPrefix: prefix,
      children: (
        <div class="card">
          <Notice kind="error" text={t('recovery.dead_notice')} />
          <p>{th('recovery.dead_hint')}</p>
          <form method="get" action={`${prefix}/forgot-password`}>
            <button type="submit" class="primary">
              {th('recovery.request_new_link')}
            </button>
          </form>
          <p class="links">
            <a href="/support">{th('recovery.contact_support')}</a>
          </p>
        </div>
      ),
    }),
  );
}

async function renderNewPassword(
  d: RecoveryPagesDeps,
  reply: FastifyReply,
  o: { token: string; error?: string; status?: number; org?: OrgView },
) {
  // Another way back in (a new passkey for an account without a password) comes first, and the
  // password form becomes the alternative.
  const choices = (await Promise.all(d.pages.resetChoices.map((c) => c(o.token)))).filter((x) => x);
  return resetHtml(
    reply,
    o.status ?? 200,
    Page({
      title: choices.length ? t('recovery.new_password_title_choices') : t('recovery.new_password_title'),
      productName: orgName(o.org, d.config.productName),
      orgPrefix: orgPrefix(o.org),
      children: (
        <>
          <Notice kind="error" text={o.error} />
          {choices.join('') as 'safe'}
          <form method="post" action={RESET_LINK_PATH} class="card" novalidate>
            {choices.length ? (
              <>
                <h2>{th('recovery.or_set_password')}</h2>
                <p class="hint">{th('recovery.passkey_still_asked')}</p>
              </>
            ) : (
              ''
            )}
            <input type="hidden" name="token" value={o.token} />
            <Field
              name="password"
              label={t('recovery.new_password')}
              type="password"
              autocomplete="new-password"
              autofocus
              policy
            />
            <Field
              name="passwordConfirm"
              label={t('recovery.confirm_password')}
              type="password"
              autocomplete="new-password"
            />
            <button type="submit" class="primary">
              {th('recovery.change_password')}
            </button>
          </form>
        </>
      ),
    }),
  );
}

export function renderChangeWithCode(
  d: RecoveryPagesDeps,
  reply: FastifyReply,
  o: {
    identifier?: string;
    code?: string;
    error?: string;
    status?: number;
    org?: OrgView;
    focus?: 'password';
    tries?: number;
    usedUp?: boolean;
  },
) {
  const prefix = orgPrefix(o.org);
  return resetHtml(
    reply,
    o.status ?? 200,
    Page({
      title: t('recovery.code_title'),
      productName: orgName(o.org, d.config.productName),
      orgPrefix: prefix,
      children: (
        <>
          <Notice kind="error" text={o.error} />
          {o.usedUp ? (
            <p class="card">
              <a href={`${prefix}/forgot-password`}>{th('recovery.send_new_code')}</a>
            </p>
          ) : (
            ''
          )}
          <form method="post" action={`${prefix}/change-password`} class="card" novalidate>
            <input type="hidden" name="tries" value={String(o.tries ?? 0)} />
            <Field
              name="identifier"
              label={t('recovery.identifier_label')}
              value={o.identifier}
              autocomplete="username"
              autofocus={!o.identifier}
              maxlength={320}
            />
            <Field
              name="code"
              label={t('recovery.code_label')}
              value={o.code}
              autocomplete="one-time-code"
              maxlength={16}
              autofocus={!!o.identifier && o.focus !== 'password'}
              hint={t('recovery.code_hint', { example: 'K7QM-2XRT' })}
            />
            <Field
              name="password"
              label={t('recovery.new_password')}
              type="password"
              autocomplete="new-password"
              policy
              autofocus={o.focus === 'password'}
            />
            <Field
              name="passwordConfirm"
              label={t('recovery.confirm_password')}
              type="password"
              autocomplete="new-password"
            />
            <button type="submit" class="primary">
              {th('recovery.change_password')}
            </button>
            <p class="links">
              <a href={`${prefix}/forgot-password`}>{th('recovery.no_code')}</a>
            </p>
          </form>
        </>
      ),
    }),
  );
}

export function registerRecoveryPages(app: FastifyInstance, d: RecoveryPagesDeps): void {
  registerRecoveryLinkPages(app, d);
  app.get('/forgot-password', { schema: { hide: true } }, async (_req, reply) => renderForgot(d, reply, {}));

  app.post('/forgot-password', { schema: { hide: true } }, async (req, reply) => forgotPasswordPost(d, req, reply));
}

/** The request of /forgot-password and /o/{slug}/forgot-password; a code method goes on to its code page. */
export async function forgotPasswordPost(
  d: RecoveryPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  org?: Organization,
) {
  const identifier = field(req.body, 'identifier', 320);
  const captcha = captchaField(req.body);
  const method = field(req.body, 'method', 32) || undefined;
  try {
    const { message, flow } = await d.recovery.request({ identifier, captcha, method }, contextOf(req));
    const codeEntry = method ? d.recoveryMethods.get(method)?.page.codeEntry : undefined;
    if (flow && method && codeEntry) {
      const back = `${orgPrefix(org)}/forgot-password`;
      return codeEntry(d, reply, { flow, identifier, method, back, notice: message });
    }
    return renderSent(d, reply, message, org);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
    return renderForgot(d, reply, { identifier, error: pageMessage(err), status: err.status, org });
  }
}

/**
 * The organization of the account a reset link was sent to (issue 17, defect 3): the link in the
 * mail is the install's, so its page finds the organization from the token, for its name and links.
 */
async function orgOfToken(d: RecoveryPagesDeps, token: string): Promise<OrgView | undefined> {
  const owner = await d.recovery.tokenOwner(token);
  return owner ? d.organizations.ofAccount(owner) : undefined;
}

function registerRecoveryLinkPages(app: FastifyInstance, d: RecoveryPagesDeps): void {
  // REC-04: the link only shows a form; scanners and previews that GET it use nothing up.
  app.get(RESET_LINK_PATH, { schema: { hide: true } }, async (req, reply) => {
    const raw = (req.query as Record<string, unknown>)?.token;
    const token = typeof raw === 'string' ? raw : '';
    const org = await orgOfToken(d, token);
    if (!(await d.recovery.tokenUsable(token))) return renderDeadLink(d, reply, token ? 410 : 400, org);
    return renderNewPassword(d, reply, { token, org });
  });

  app.post(RESET_LINK_PATH, { schema: { hide: true } }, async (req, reply) => {
    const token = field(req.body, 'token', 200);
    const password = field(req.body, 'password', 1024);
    const passwordConfirm = field(req.body, 'passwordConfirm', 1024);
    // Looked up before the change, which uses the token up.
    const org = await orgOfToken(d, token);
    try {
      await d.recovery.complete({ token, password, passwordConfirm }, contextOf(req));
      return renderResetDone(d, reply, org);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'invalid_token') return renderDeadLink(d, reply, err.status, org);
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      return renderNewPassword(d, reply, { token, org, error: pageMessage(err), status: err.status });
    }
  });

  app.get('/change-password', { schema: { hide: true } }, async (_req, reply) => renderChangeWithCode(d, reply, {}));

  app.post('/change-password', { schema: { hide: true } }, async (req, reply) => changeWithCodePost(d, req, reply));

  app.post('/settings/password-reset-email', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    try {
      await d.recovery.requestForSelf(auth, contextOf(req));
      return reply.redirect('/settings?done=reset_sent#reset-email', 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return renderSettings(d, reply, auth, { error: pageMessage(err), status: err.status, section: 'reset-email' });
    }
  });
}

/** The "Send Reset Email" section of /settings. */
export function resetEmailSection(
  _d: RecoveryPagesDeps,
  auth: { account: { email: string | null } },
  flash?: string,
  error?: SectionError,
): string {
  if (!auth.account.email) return '';
  return (
    <section class="card" id="reset-email" aria-labelledby="reset-email-h">
      <h2 id="reset-email-h">{th('recovery.settings_heading')}</h2>
      <Notice kind="success" text={flash === 'reset_sent' ? t('recovery.settings_sent') : undefined} />
      <Notice kind="error" text={error?.section === 'reset-email' ? error.text : undefined} />
      <p>{th('recovery.settings_intro', { email: auth.account.email, b: (s) => `<strong>${s}</strong>` })}</p>
      <form method="post" action="/settings/password-reset-email#reset-email">
        <button type="submit">{th('recovery.settings_send')}</button>
      </form>
    </section>
  ) as string;
}

/** POST /change-password and /o/{slug}/change-password. */
export async function changeWithCodePost(
  d: RecoveryPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  org?: OrgView,
) {
  const identifier = field(req.body, 'identifier', 320);
  const code = field(req.body, 'code', 32);
  const password = field(req.body, 'password', 1024);
  const passwordConfirm = field(req.body, 'passwordConfirm', 1024);
  const tries = triesFrom(req.body);
  if (!identifier || !code)
    return renderChangeWithCode(d, reply, {
      identifier,
      code,
      tries,
      org,
      error: t('recovery.enter_identifier_and_code'),
      status: 400,
    });
  try {
    await d.recovery.complete({ identifier, code, password, passwordConfirm }, contextOf(req));
    return renderResetDone(d, reply, org);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
    const v = codeErrorView(err, tries);
    return renderChangeWithCode(d, reply, {
      identifier,
      // Only a refused new password keeps the code: a wrong code is typed again.
      code: v.passwordOnly ? code : undefined,
      focus: v.passwordOnly ? 'password' : undefined,
      tries: v.tries,
      usedUp: v.usedUp,
      error: v.message,
      status: err.status,
      org,
    });
  }
}
