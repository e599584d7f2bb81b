import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { RecoveryCodesList } from '../../methods/recovery-code/view.tsx';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { contextOf, field, type RequestDeps } from '../../web/request.ts';
import type { FactorOffer } from './second-factor.ts';
import type { SecondFactorAnswer, SignedIn, SignInService } from './service.ts';
import { applySignedIn, clearPendingCookie, pendingToken, type StepCookieDeps } from './step-cookies.ts';

/** What this module uses of the container the composition root builds. */
export type SecondFactorPagesDeps = Pick<Kernel, 'config'> & { signIn: SignInService } & RequestDeps & StepCookieDeps;

void Html;

const EXPIRED = '/login?msg=second_factor_expired';

function send(d: SecondFactorPagesDeps, reply: FastifyReply, title: string, body: JSX.Element, status = 200) {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .send(Page({ title, productName: d.config.productName, children: body }));
}

/** The "don't ask again" checkbox, its wording from the configured lifetime. */
function RememberBox(p: { days: number }): JSX.Element {
  return (
    <div class="field check">
      <input type="checkbox" id="f-remember" name="remember" value="1" />
      <label for="f-remember">{th('signin.second_factor.remember', { days: p.days })}</label>
    </div>
  );
}

async function renderStep(
  d: SecondFactorPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  o: { error?: string; status?: number; use?: string },
) {
  const pending = await d.signIn.pendingOf(pendingToken(d, req));
  if (!pending) return reply.redirect(EXPIRED, 303);
  const ctx = contextOf(req);
  const { enrol, factors } = await d.signIn.offers(pending, ctx);
  if (enrol) return renderEnrol(d, req, reply, o);
  const has = (type: string) => factors.some((f) => f.type === type);
  const days = Math.max(1, Math.round(d.config.mfa.rememberTtl / 86_400_000));
  const codeFactor = factors.find((f) => f.type !== 'recovery_code' && d.signIn.answerOf(f.type) === 'code');
  const useRecovery = o.use === 'recovery' || !codeFactor;
  const fragments = factors.map((f) => d.signIn.fragmentOf(f)).filter((x) => x);
  const body = (
    <>
      <Notice kind="error" text={o.error} />
      {useRecovery && has('recovery_code') ? (
        <form method="post" action="/login/second-factor" class="card" novalidate>
          <p>{th('signin.second_factor.recovery_intro')}</p>
          <Field
            name="recoveryCode"
            label={t('signin.second_factor.recovery_code')}
            autocomplete="off"
            autofocus
            maxlength={64}
            hint={t('signin.second_factor.recovery_code_hint')}
          />
          <input type="hidden" name="use" value="recovery" />
          <RememberBox days={days} />
          <button type="submit" class="primary">
            {th('signin.second_factor.continue')}
          </button>
          <p class="links">
            {codeFactor ? <a href="/login/second-factor">{th('signin.second_factor.use_app')}</a> : ''}
            <a href="/support">{th('signin.second_factor.lost_codes')}</a>
          </p>
        </form>
      ) : codeFactor ? (
        <form method="post" action="/login/second-factor" class="card" novalidate>
          <p>{th('signin.second_factor.app_intro')}</p>
          <Field
            name="code"
            label={t('signin.second_factor.app_code')}
            autocomplete="one-time-code"
            inputmode="numeric"
            autofocus
            maxlength={16}
          />
          <RememberBox days={days} />
          <button type="submit" class="primary">
            {th('signin.second_factor.verify')}
          </button>
          <p class="links">
            {has('recovery_code') ? (
              <a href="/login/second-factor?use=recovery">{th('signin.second_factor.use_recovery')}</a>
            ) : (
              ''
            )}
          </p>
        </form>
      ) : (
        ''
      )}
      {fragments.join('') as 'safe'}
      {!has('recovery_code') && !codeFactor && fragments.length === 0 ? (
        <p>{th('signin.second_factor.no_way_left', { link: (s) => `<a href="/support">${s}</a>` })}</p>
      ) : (
        ''
      )}
      <p class="links">
        <a href="/login">{th('signin.second_factor.cancel_other')}</a>
      </p>
    </>
  );
  return send(d, reply, t('signin.second_factor.title'), body, o.status);
}

async function renderEnrol(
  d: SecondFactorPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  o: { error?: string; status?: number },
) {
  const e = (await d.signIn.beginEnrolment(pendingToken(d, req), contextOf(req))) as {
    secret?: string;
    uri?: string;
    qrSvg?: string;
  };
  const body = (
    <>
      <Notice kind="error" text={o.error} />
      <section class="card" aria-labelledby="enrol-h">
        <h2 id="enrol-h">{th('signin.enrol.heading')}</h2>
        <p>{th('signin.enrol.intro')}</p>
        <figure class="qr">{(e.qrSvg ?? '') as 'safe'}</figure>
        <p>
          {th('signin.enrol.key')}{' '}
          <code data-totp-secret safe>
            {e.secret ?? ''}
          </code>
        </p>
        <details>
          <summary>{th('signin.enrol.setup_link')}</summary>
          <p>
            <code class="wrap" safe>
              {e.uri ?? ''}
            </code>
          </p>
        </details>
      </section>
      <form method="post" action="/login/second-factor" class="card" novalidate>
        <Field
          name="code"
          label={t('signin.enrol.code')}
          autocomplete="one-time-code"
          inputmode="numeric"
          autofocus
          maxlength={16}
        />
        <button type="submit" class="primary">
          {th('signin.enrol.submit')}
        </button>
      </form>
      <p class="links">
        <a href="/login">{th('signin.enrol.cancel')}</a>
      </p>
    </>
  );
  return send(d, reply, t('signin.enrol.title'), body, o.status);
}

/** After the step: straight on, or first the codes to save / how many recovery codes remain. */
function afterStep(d: SecondFactorPagesDeps, reply: FastifyReply, done: SignedIn) {
  const next = done.returnTo ?? '/settings';
  const n = done.notice as { recoveryCodes?: string[]; recoveryCodesLeft?: number } | undefined;
  if (n?.recoveryCodes)
    return send(
      d,
      reply,
      t('signin.codes.title'),
      <>
        <Notice kind="success" text={t('signin.codes.enabled')} />
        <section class="card">
          <RecoveryCodesList codes={n.recoveryCodes} productName={d.config.productName} />
          <p>
            <a class="button primary" href={next}>
              {th('signin.codes.saved')}
            </a>
          </p>
        </section>
      </>,
    );
  if (n?.recoveryCodesLeft !== undefined) {
    const left = n.recoveryCodesLeft;
    return send(
      d,
      reply,
      t('signin.codes_left.title'),
      <section class="card">
        <p>{th('signin.codes_left.count', { count: left })}</p>
        <p>{th('signin.codes_left.advice')}</p>
        {left === 0 ? <p>{th('signin.codes_left.no_way', { link: (s) => `<a href="/support">${s}</a>` })}</p> : ''}
        <p class="links">
          <a href="/settings#two-step">{th('signin.codes_left.create')}</a>
          <a href={next}>{th('signin.second_factor.continue')}</a>
        </p>
      </section>,
    );
  }
  return reply.redirect(next, 303);
}

export function registerSecondFactorPages(app: FastifyInstance, d: SecondFactorPagesDeps): void {
  app.get('/login/second-factor', { schema: { hide: true } }, async (req, reply) => {
    const use = (req.query as Record<string, unknown>)?.use;
    return renderStep(d, req, reply, { use: use === 'recovery' ? 'recovery' : undefined });
  });

  app.post('/login/second-factor', { schema: { hide: true } }, async (req, reply) => {
    const code = field(req.body, 'code', 16).trim();
    const recoveryCode = field(req.body, 'recoveryCode', 64).trim();
    const use = field(req.body, 'use', 16) === 'recovery' ? 'recovery' : undefined;
    const remember = field(req.body, 'remember', 4) === '1';
    // A passkey's answer, as JSON the passkey script put in the form (its own page fragment).
    const webauthnJson = field(req.body, 'webauthn', 60_000);
    if (webauthnJson) {
      let webauthn: unknown;
      try {
        webauthn = JSON.parse(webauthnJson);
      } catch {
        webauthn = null;
      }
      return finishStep(d, req, reply, { webauthn, remember }, use);
    }
    if (!code && !recoveryCode)
      return renderStep(d, req, reply, {
        use,
        error: use ? t('signin.second_factor.missing_recovery') : t('signin.second_factor.missing_code'),
        status: 400,
      });
    return finishStep(d, req, reply, recoveryCode ? { recoveryCode, remember } : { code, remember }, use);
  });
}

async function finishStep(
  d: SecondFactorPagesDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  answer: SecondFactorAnswer,
  use: string | undefined,
) {
  try {
    const done = await d.signIn.finish(pendingToken(d, req), answer, contextOf(req));
    clearPendingCookie(d, reply);
    applySignedIn(d, reply, done);
    return afterStep(d, reply, done);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.code === 'unauthorized') return reply.redirect(EXPIRED, 303);
    if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
    return renderStep(d, req, reply, { use, error: pageMessage(err), status: err.status });
  }
}

export type { FactorOffer };
