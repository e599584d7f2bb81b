import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Deps } from '../../deps.ts';
import { AppError, pageMessage } from '../../errors.ts';
import type { Organization } from '../../flows/organizations/service.ts';
import { METHOD_LABELS } from '../../flows/organizations/settings.ts';
import { renderResetDone, resetHtml } from '../../flows/recovery/page-parts.tsx';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { contextOf, field } from '../../web/request.ts';
import { requestResend } from './resend.ts';

void Html;

// The code page of the email and SMS code methods: code + new password, "Resend code" and
// "Try another method". It carries the flow id the request answered with (OTP-03).

/** The method choice on /forgot-password: it depends only on the organization (ENUM-02). */
export function recoveryChooser(org: Organization): JSX.Element {
  const methods = org.recovery.methods;
  if (methods.length === 1) return <input type="hidden" name="method" value={methods[0]} />;
  return (
    <fieldset class="choices">
      <legend>How should we send it?</legend>
      {methods.map((m, i) => (
        <div class="field check">
          <input type="radio" id={`method-${m}`} name="method" value={m} checked={i === 0} />
          <label for={`method-${m}`} safe>
            {METHOD_LABELS[m]}
          </label>
        </div>
      ))}
    </fieldset>
  );
}

/** The line above the form, for what this organization enables. */
export function chooserIntro(org: Organization): string {
  const m = org.recovery.methods;
  if (m.length > 1) return 'Enter your username or email address and choose how we should reach you.';
  if (m[0] === 'sms_otp') return 'Enter your username or email address. We will text a code to your confirmed mobile number.';
  if (m[0] === 'email_otp') return 'Enter your username or email address. We will email you a code to choose a new password.';
  return 'Enter your username or email address. We will email you a link and a code to choose a new password.';
}

export interface OtpEntry {
  flow: string;
  identifier: string;
  method: string;
  /** where "Try another method" leads (the organization's forgot-password page) */
  back: string;
  notice?: string;
  error?: string;
  status?: number;
}

export function renderOtpEntry(d: Deps, reply: FastifyReply, o: OtpEntry) {
  const sms = o.method === 'sms_otp';
  return resetHtml(
    reply,
    o.status ?? 200,
    Page({
      title: 'Enter your code',
      productName: d.config.productName,
      children: (
        <>
          <Notice kind="success" text={o.notice} />
          <Notice kind="error" text={o.error} />
          <form method="post" action="/forgot-password/code" class="card" novalidate>
            <input type="hidden" name="flow" value={o.flow} />
            <input type="hidden" name="identifier" value={o.identifier} />
            <input type="hidden" name="method" value={o.method} />
            <input type="hidden" name="back" value={o.back} />
            <Field
              name="code"
              label={sms ? 'Code from the text message' : 'Code from the email'}
              autocomplete="one-time-code"
              inputmode="numeric"
              autofocus
              maxlength={16}
            />
            <Field name="password" label="New password" type="password" autocomplete="new-password" policy />
            <Field name="passwordConfirm" label="Confirm new password" type="password" autocomplete="new-password" />
            <button type="submit" class="primary">
              Change password
            </button>
          </form>
          <form method="post" action="/forgot-password/resend" class="links">
            <input type="hidden" name="flow" value={o.flow} />
            <input type="hidden" name="identifier" value={o.identifier} />
            <input type="hidden" name="method" value={o.method} />
            <input type="hidden" name="back" value={o.back} />
            <button type="submit">Resend code</button>
            <a href={o.back}>Try another method</a>
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

function entryFrom(body: unknown): OtpEntry {
  return {
    flow: field(body, 'flow', 64),
    identifier: field(body, 'identifier', 320),
    method: field(body, 'method', 16) === 'sms_otp' ? 'sms_otp' : 'email_otp',
    back: safeBack(field(body, 'back', 64)),
  };
}

export function registerOtpPages(app: FastifyInstance, d: Deps): void {
  app.post('/forgot-password/code', { schema: { hide: true } }, async (req, reply) => {
    const e = entryFrom(req.body);
    const code = field(req.body, 'code', 32);
    if (!e.flow || !e.identifier || !code) return renderOtpEntry(d, reply, { ...e, error: 'Enter the code we sent you.', status: 400 });
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
      return renderResetDone(d, reply);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      return renderOtpEntry(d, reply, { ...e, error: pageMessage(err), status: err.status });
    }
  });

  app.post('/forgot-password/resend', { schema: { hide: true } }, async (req, reply) => {
    const e = entryFrom(req.body);
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
