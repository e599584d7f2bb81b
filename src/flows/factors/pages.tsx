import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import { RecoveryCodesList } from '../../methods/recovery-code/view.tsx';
import type { Authenticated } from '../../web/auth.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { leadToReauthentication, type ReauthDeps } from '../../web/reauth.ts';
import { contextOf, field } from '../../web/request.ts';
import { type AccountPagesDeps, pageAuth, renderSettings } from '../account/pages.tsx';
import type { FactorService, TotpSetup } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type FactorsPagesDeps = { factors: FactorService } & AccountPagesDeps & ReauthDeps;

void Html;

const FLASH: Record<string, string> = {
  totp_added: 'factors.flash.totp_added',
  factor_removed: 'factors.flash.factor_removed',
};

const BACK = '/settings#two-step';
const day = (iso: string | null) => (iso ? iso.slice(0, 10) : t('factors.never'));

/** The "Two-step verification" section of /settings. */
export async function twoStepSection(
  d: FactorsPagesDeps,
  auth: Authenticated,
  flash: string | undefined,
): Promise<string> {
  const { factors, recoveryCodesLeft } = await d.factors.list(auth.account.id);
  const hasTotp = factors.some((f) => f.type === 'totp');
  // Passkeys are listed (and removed) in their own section; here they are only counted.
  const listed = factors.filter((f) => f.type !== 'passkey');
  const passkeys = factors.length - listed.length;
  return (
    <>
      <Notice kind="success" text={flash && Object.hasOwn(FLASH, flash) ? t(FLASH[flash] as string) : undefined} />
      <section class="card" id="two-step" aria-labelledby="two-step-h">
        <h2 id="two-step-h">{th('factors.title')}</h2>
        {listed.length ? (
          <ul class="factors">
            {listed.map((f) => (
              <li>
                <strong safe>{f.name}</strong>
                <span class="hint" safe>
                  {` ${t('factors.dates', { added: day(f.createdAt), used: day(f.lastUsedAt) })}`}
                </span>
                <form
                  method="post"
                  action={`/settings/two-step/factors/${encodeURIComponent(f.id)}/remove`}
                  class="inline"
                >
                  <button type="submit" class="link" aria-label={t('factors.remove_named', { name: f.name })}>
                    {th('factors.remove')}
                  </button>
                </form>
              </li>
            ))}
          </ul>
        ) : passkeys ? (
          ''
        ) : (
          <p>{th('factors.off')}</p>
        )}
        {passkeys ? (
          <p>
            {th('factors.passkeys_count', {
              count: passkeys,
              link: (s) => `<a href="#passkeys">${s}</a>`,
            })}
          </p>
        ) : (
          ''
        )}
        {hasTotp ? (
          ''
        ) : (
          <form method="post" action="/settings/two-step/totp">
            <button type="submit" class="primary">
              {th('factors.totp_setup')}
            </button>
          </form>
        )}
        {factors.length ? (
          <>
            <h3>{th('factors.codes_title')}</h3>
            <p>
              {recoveryCodesLeft === 0
                ? th('factors.codes_none')
                : th('factors.codes_left', { count: recoveryCodesLeft })}
            </p>
            <form method="post" action="/settings/two-step/recovery-codes">
              <button type="submit">{th('factors.codes_new')}</button>
            </form>
          </>
        ) : (
          ''
        )}
      </section>
    </>
  ) as string;
}

function sendPage(
  d: FactorsPagesDeps,
  reply: FastifyReply,
  auth: Authenticated,
  title: string,
  body: JSX.Element,
  status = 200,
) {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .send(
      Page({
        title,
        productName: d.config.productName,
        signedIn: { username: auth.account.username },
        children: body,
      }),
    );
}

function setupPage(d: FactorsPagesDeps, reply: FastifyReply, auth: Authenticated, s: TotpSetup, error?: string) {
  return sendPage(
    d,
    reply,
    auth,
    t('factors.totp_setup'),
    <>
      <Notice kind="error" text={error} />
      <section class="card" aria-labelledby="scan-h">
        <h2 id="scan-h">{th('factors.scan_title')}</h2>
        <p>{th('factors.scan_intro')}</p>
        <figure class="qr">{s.qrSvg as 'safe'}</figure>
        <p>
          {th('factors.cant_scan')}{' '}
          <code data-totp-secret safe>
            {s.secret}
          </code>
        </p>
        <details>
          <summary>{th('factors.setup_link')}</summary>
          <p>
            <code class="wrap" safe>
              {s.uri}
            </code>
          </p>
        </details>
      </section>
      <form method="post" action="/settings/two-step/totp/confirm" class="card" novalidate>
        <h2>{th('factors.enter_code')}</h2>
        <Field
          name="code"
          label={t('factors.code_label')}
          autocomplete="one-time-code"
          inputmode="numeric"
          autofocus
          maxlength={16}
        />
        <button type="submit" class="primary">
          {th('factors.turn_on')}
        </button>
        <p class="links">
          <a href={BACK}>{th('factors.cancel')}</a>
        </p>
      </form>
    </>,
    error ? 400 : 200,
  );
}

function codesPage(d: FactorsPagesDeps, reply: FastifyReply, auth: Authenticated, codes: string[], intro: string) {
  return sendPage(
    d,
    reply,
    auth,
    t('factors.codes_save_title'),
    <>
      <Notice kind="success" text={intro} />
      <section class="card">
        <RecoveryCodesList codes={codes} productName={d.config.productName} />
        <p>
          <a class="button primary" href={BACK}>
            {th('factors.codes_saved')}
          </a>
        </p>
      </section>
    </>,
  );
}

export function registerFactorsPages(app: FastifyInstance, d: FactorsPagesDeps): void {
  /** Runs a change; a stale or single-factor sign-in is led to sign in again (MFA-06). */
  const route = (
    path: string,
    run: (auth: Authenticated, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ) =>
    app.post(path, { schema: { hide: true } }, async (req, reply) => {
      const auth = await pageAuth(d, req, reply);
      if (!auth) return reply;
      try {
        return await run(auth, req, reply);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, BACK);
        if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
        return renderSettings(d, reply, auth, { error: pageMessage(err), status: err.status });
      }
    });

  route('/settings/two-step/totp', async (auth, _req, reply) =>
    setupPage(d, reply, auth, await d.factors.startTotp(auth)),
  );

  route('/settings/two-step/totp/confirm', async (auth, req, reply) => {
    try {
      const done = await d.factors.confirmTotp(auth, field(req.body, 'code', 16).trim(), contextOf(req));
      if (done.recoveryCodes) return codesPage(d, reply, auth, done.recoveryCodes, t('factors.flash.totp_added'));
      return reply.redirect(`/settings?done=totp_added${'#two-step'}`, 303);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'invalid_code') throw err;
      // The same secret again, so the app the user just set up keeps working.
      return setupPage(d, reply, auth, await d.factors.startTotp(auth, true), pageMessage(err));
    }
  });

  route('/settings/two-step/recovery-codes', async (auth, req, reply) =>
    codesPage(d, reply, auth, await d.factors.regenerateCodes(auth, contextOf(req)), t('factors.codes_ready')),
  );

  route('/settings/two-step/factors/:id/remove', async (auth, req, reply) => {
    const id = String((req.params as { id?: unknown }).id ?? '').slice(0, 64);
    await d.factors.remove(auth, id, contextOf(req));
    return reply.redirect(`/settings?done=factor_removed${'#two-step'}`, 303);
  });
}
