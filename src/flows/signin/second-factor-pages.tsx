import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import type { Kernel } from '../../kernel.ts';
import { RecoveryCodesList } from '../../methods/recovery-code/view.tsx';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { contextOf, field, type RequestDeps } from '../../web/request.ts';
import type { FactorOffer } from './second-factor.ts';
import type { SignedIn, SignInService } from './service.ts';
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
      <label for="f-remember" safe>
        {`Don't ask again on this browser for ${p.days} days`}
      </label>
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
  const has = (t: string) => factors.some((f) => f.type === t);
  const days = Math.max(1, Math.round(d.config.mfa.rememberTtl / 86_400_000));
  const codeFactor = factors.find((f) => f.type !== 'recovery_code' && d.signIn.answerOf(f.type) === 'code');
  const useRecovery = o.use === 'recovery' || !codeFactor;
  const fragments = factors.map((f) => d.signIn.fragmentOf(f)).filter((x) => x);
  const body = (
    <>
      <Notice kind="error" text={o.error} />
      {useRecovery && has('recovery_code') ? (
        <form method="post" action="/login/second-factor" class="card" novalidate>
          <p>Enter one of the recovery codes you saved when you set up two-step verification. Each code works once.</p>
          <Field
            name="recoveryCode"
            label="Recovery code"
            autocomplete="off"
            autofocus
            maxlength={64}
            hint="Letters and digits; dashes and spaces do not matter."
          />
          <input type="hidden" name="use" value="recovery" />
          <RememberBox days={days} />
          <button type="submit" class="primary">
            Continue
          </button>
          <p class="links">
            {codeFactor ? <a href="/login/second-factor">Use your authenticator app instead</a> : ''}
            <a href="/support">Lost your codes too? Contact support</a>
          </p>
        </form>
      ) : codeFactor ? (
        <form method="post" action="/login/second-factor" class="card" novalidate>
          <p>Open your authenticator app and enter the 6-digit code it shows for this account.</p>
          <Field
            name="code"
            label="Authentication code"
            autocomplete="one-time-code"
            inputmode="numeric"
            autofocus
            maxlength={16}
          />
          <RememberBox days={days} />
          <button type="submit" class="primary">
            Verify
          </button>
          <p class="links">
            {has('recovery_code') ? <a href="/login/second-factor?use=recovery">Use a recovery code instead</a> : ''}
          </p>
        </form>
      ) : (
        ''
      )}
      {fragments.join('') as 'safe'}
      {!has('recovery_code') && !codeFactor && fragments.length === 0 ? (
        <p>
          There is no way left to finish this sign-in here. <a href="/support">Contact support</a>.
        </p>
      ) : (
        ''
      )}
      <p class="links">
        <a href="/login">Cancel and sign in as someone else</a>
      </p>
    </>
  );
  return send(d, reply, 'Two-step verification', body, o.status);
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
        <h2 id="enrol-h">Set up an authenticator app</h2>
        <p>
          Your organization requires two-step verification. Scan this QR code with an authenticator app (such as Google
          Authenticator, Microsoft Authenticator, 1Password or Aegis), then enter the code it shows.
        </p>
        <figure class="qr">{(e.qrSvg ?? '') as 'safe'}</figure>
        <p>
          Can't scan it? Enter this key in the app:{' '}
          <code data-totp-secret safe>
            {e.secret ?? ''}
          </code>
        </p>
        <details>
          <summary>Setup link</summary>
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
          label="Code from the app"
          autocomplete="one-time-code"
          inputmode="numeric"
          autofocus
          maxlength={16}
        />
        <button type="submit" class="primary">
          Turn on and continue
        </button>
      </form>
      <p class="links">
        <a href="/login">Cancel</a>
      </p>
    </>
  );
  return send(d, reply, 'Set up two-step verification', body, o.status);
}

/** After the step: straight on, or first the codes to save / how many recovery codes remain. */
function afterStep(d: SecondFactorPagesDeps, reply: FastifyReply, done: SignedIn) {
  const next = done.returnTo ?? '/settings';
  const n = done.notice as { recoveryCodes?: string[]; recoveryCodesLeft?: number } | undefined;
  if (n?.recoveryCodes)
    return send(
      d,
      reply,
      'Save your recovery codes',
      <>
        <Notice kind="success" text="Two-step verification is on." />
        <section class="card">
          <RecoveryCodesList codes={n.recoveryCodes} productName={d.config.productName} />
          <p>
            <a class="button primary" href={next}>
              I saved them, continue
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
      'Signed in with a recovery code',
      <section class="card">
        <p safe>
          {left === 0
            ? 'That was your last recovery code.'
            : `You have ${left} recovery code${left === 1 ? '' : 's'} left.`}
        </p>
        <p>
          If you lost your authenticator app or passkey, set up a new one and create a new set of recovery codes now
          under Settings → Two-step verification.
        </p>
        {left === 0 ? (
          <p>
            If you cannot do that, <a href="/support">contact support</a>.
          </p>
        ) : (
          ''
        )}
        <p class="links">
          <a href="/settings#two-step">Create new recovery codes</a>
          <a href={next}>Continue</a>
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
    if (!code && !recoveryCode)
      return renderStep(d, req, reply, {
        use,
        error: use ? 'Enter a recovery code.' : 'Enter the code from your authenticator app.',
        status: 400,
      });
    try {
      const done = await d.signIn.finish(
        pendingToken(d, req),
        recoveryCode ? { recoveryCode, remember } : { code, remember },
        contextOf(req),
      );
      clearPendingCookie(d, reply);
      applySignedIn(d, reply, done);
      return afterStep(d, reply, done);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'unauthorized') return reply.redirect(EXPIRED, 303);
      if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
      return renderStep(d, req, reply, { use, error: pageMessage(err), status: err.status });
    }
  });
}

export type { FactorOffer };
