import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { codeErrorView, triesFrom } from '../../flows/recovery/code-tries.ts';
import type { CodeEntryStart, RecoveryMethodDeps } from '../../flows/recovery/method.ts';
import { renderResetDone, resetHtml } from '../../flows/recovery/page-parts.tsx';
import { t, th } from '../../i18n/index.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { type OrgView, orgName, orgPrefix, slugOfPath } from '../../web/org-context.ts';
import { contextOf, field } from '../../web/request.ts';
import { isOtpMethod } from './code.ts';
import { requestResend } from './resend.ts';

void Html;

// The code page of the email and SMS code methods: code + new password, "Resend code" and
// "Try another method". It carries the flow id the request answered with (OTP-03).

export interface OtpEntry extends CodeEntryStart {
  error?: string;
  status?: number;
  /** the typed code, kept when only the new password was refused */
  code?: string;
  tries?: number;
  usedUp?: boolean;
}

/** The organization of the way back (/o/{slug}/forgot-password), for the page's name and links. */
async function orgOfBack(d: RecoveryMethodDeps, back: string): Promise<OrgView | undefined> {
  const slug = slugOfPath(back);
  return slug && d.organizations.bySlug ? d.organizations.bySlug(slug) : undefined;
}

export async function renderOtpEntry(d: RecoveryMethodDeps, reply: FastifyReply, o: OtpEntry) {
  const m = d.recoveryMethods.get(o.method);
  const org = await orgOfBack(d, o.back);
  return resetHtml(
    reply,
    o.status ?? 200,
    Page({
      title: t('otp.title'),
      productName: orgName(org, d.config.productName),
      orgPrefix: orgPrefix(org),
      children: (
        <>
          <Notice kind="success" text={o.notice} />
          <Notice kind="error" text={o.error} />
          <form method="post" action="/forgot-password/code" class="card" novalidate>
            <input type="hidden" name="tries" value={String(o.tries ?? 0)} />
            <input type="hidden" name="flow" value={o.flow} />
            <input type="hidden" name="identifier" value={o.identifier} />
            <input type="hidden" name="method" value={o.method} />
            <input type="hidden" name="back" value={o.back} />
            <Field
              name="code"
              label={isOtpMethod(m) ? m.otp.codeLabel : t('otp.code_from_email')}
              autocomplete="one-time-code"
              inputmode="numeric"
              value={o.code}
              autofocus={!o.code}
              maxlength={16}
            />
            <Field
              name="password"
              label={t('recovery.new_password')}
              type="password"
              autocomplete="new-password"
              policy
              autofocus={!!o.code}
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
          <form method="post" action="/forgot-password/resend" class="links">
            <input type="hidden" name="flow" value={o.flow} />
            <input type="hidden" name="identifier" value={o.identifier} />
            <input type="hidden" name="method" value={o.method} />
            <input type="hidden" name="back" value={o.back} />
            <button type="submit" class={o.usedUp ? 'primary' : undefined}>
              {o.usedUp ? th('recovery.send_new_code') : th('otp.resend')}
            </button>
            <a href={o.back}>{th('otp.try_another')}</a>
            <a href="/support">{th('recovery.contact_support')}</a>
          </form>
        </>
      ),
    }),
  );
}

/** Only our own forgot-password pages are valid targets of "Try another method". */
function safeBack(raw: string): string {
  return /^\/(o\/[a-z0-9-]{1,40}\/)?forgot-password$/.test(raw) ? raw : '/forgot-password';
}

/** A posted method that is no code method of this process is read as the first code method. */
function entryFrom(d: RecoveryMethodDeps, body: unknown): OtpEntry {
  const posted = d.recoveryMethods.get(field(body, 'method', 32));
  return {
    flow: field(body, 'flow', 64),
    identifier: field(body, 'identifier', 320),
    method: isOtpMethod(posted) ? posted.id : (d.recoveryMethods.all().find(isOtpMethod)?.id ?? ''),
    back: safeBack(field(body, 'back', 64)),
  };
}

export function registerOtpPages(app: FastifyInstance, d: RecoveryMethodDeps): void {
  app.post('/forgot-password/code', { schema: { hide: true } }, async (req, reply) => {
    const e = entryFrom(d, req.body);
    const code = field(req.body, 'code', 32);
    if (!e.flow || !e.identifier || !code)
      return renderOtpEntry(d, reply, { ...e, error: t('otp.enter_code'), status: 400 });
    try {
      await d.recovery.complete(
        {
          identifier: e.identifier,
          code,
          flow: e.flow,
          password: field(req.body, 'password', 1024),
          passwordConfirm: field(req.body, 'passwordConfirm', 1024),
        },
        contextOf(req),
      );
      return renderResetDone(d, reply, await orgOfBack(d, e.back));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      const v = codeErrorView(err, triesFrom(req.body));
      return renderOtpEntry(d, reply, {
        ...e,
        code: v.passwordOnly ? code : undefined,
        tries: v.tries,
        usedUp: v.usedUp,
        error: v.message,
        status: err.status,
      });
    }
  });

  app.post('/forgot-password/resend', { schema: { hide: true } }, async (req, reply) => {
    const e = entryFrom(d, req.body);
    try {
      const { message } = await requestResend(d, { flow: e.flow }, contextOf(req));
      return renderOtpEntry(d, reply, { ...e, notice: message });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      return renderOtpEntry(d, reply, { ...e, error: pageMessage(err), status: err.status });
    }
  });
}
