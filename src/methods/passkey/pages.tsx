import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { formatTime } from '../../delivery/templates.ts';
import { AppError, pageMessage } from '../../errors.ts';
import { type AccountPagesDeps, pageAuth, renderSettings } from '../../flows/account/pages.tsx';
import { t, th } from '../../i18n/index.ts';
import type { Authenticated } from '../../web/auth.ts';
import { Field, Html, Notice, Page } from '../../web/layout.tsx';
import { leadToReauthentication, type ReauthDeps } from '../../web/reauth.ts';
import { contextOf } from '../../web/request.ts';
import { type PasskeyRecoveryDeps, passkeyRecoveryAccount } from './recovery.ts';
import { BUNDLE_PATH, passkeyScripts, SCRIPT_PATH } from './scripts.tsx';
import type { PasskeyService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type PasskeyPagesDeps = { passkeys: PasskeyService } & AccountPagesDeps & ReauthDeps & PasskeyRecoveryDeps;

void Html;

const FLASH: Record<string, string> = {
  passkey_added: 'passkey.flash.added',
  passkey_removed: 'passkey.flash.removed',
};

const require = createRequire(import.meta.url);
const bundleFile = join(
  dirname(require.resolve('@simplewebauthn/browser')),
  '..',
  'dist',
  'bundle',
  'index.umd.min.js',
);
const scriptFile = join(import.meta.dirname, 'passkey.client.js');

/** Below the sign-in form: "Sign in with a passkey" (and, in the form, autofill of passkeys). */
export function passkeyLoginExtra(): string {
  return (
    <section class="card" aria-labelledby="passkey-h" id="passkey-signin">
      {/* Not "Sign in …": the page's heading and the password form's button keep that name. */}
      <h2 id="passkey-h">{th('passkey.label')}</h2>
      <p class="hint">{th('passkey.signin_hint')}</p>
      <button type="button" data-passkey-signin hidden>
        {th('passkey.use')}
      </button>
      <p class="hint" data-passkey-status role="status" aria-live="polite"></p>
      <p class="hint" data-passkey-nojs>
        {th('passkey.signin_nojs')}
      </p>
      {passkeyScripts()}
    </section>
  ) as string;
}

/** The "Passkeys" section of /settings: the list with dates, remove buttons, and adding one. */
export async function passkeySection(
  d: PasskeyPagesDeps,
  auth: Authenticated,
  flash: string | undefined,
): Promise<string> {
  const keys = await d.passkeys.list(auth.account.id);
  return (
    <>
      <Notice kind="success" text={flash && Object.hasOwn(FLASH, flash) ? t(FLASH[flash] as string) : undefined} />
      <section class="card" aria-labelledby="passkeys-h" id="passkeys">
        <h2 id="passkeys-h">{th('passkey.section_title')}</h2>
        {keys.length ? (
          <ul class="sessions" data-passkey-list>
            {keys.map((k) => (
              <li>
                <strong safe>{k.name}</strong>
                <span class="hint" safe>
                  {` ${
                    k.lastUsedAt
                      ? t('passkey.dates', {
                          added: formatTime(Date.parse(k.createdAt)),
                          used: formatTime(Date.parse(k.lastUsedAt)),
                        })
                      : t('passkey.dates_unused', { added: formatTime(Date.parse(k.createdAt)) })
                  }`}
                </span>
                {k.flaggedAt ? <span class="hint bad"> · {th('passkey.blocked')}</span> : ''}
                <form method="post" action={`/settings/passkeys/${encodeURIComponent(k.id)}/remove`} class="inline">
                  <button type="submit" class="link" aria-label={t('passkey.remove_named', { name: k.name })}>
                    {th('passkey.remove')}
                  </button>
                </form>
              </li>
            ))}
          </ul>
        ) : (
          <p>{th('passkey.none')}</p>
        )}
        <form method="post" action="/settings/passkeys/add" data-passkey-add novalidate>
          <Field
            name="passkeyName"
            label={t('passkey.name_label')}
            required={false}
            maxlength={64}
            hint={t('passkey.name_hint')}
          />
          <button type="submit">{th('passkey.add')}</button>
          <p class="hint" data-passkey-status role="status" aria-live="polite"></p>
          <p class="hint" data-passkey-nojs>
            {th('passkey.add_nojs')}
          </p>
        </form>
        {passkeyScripts()}
      </section>
    </>
  ) as string;
}

/**
 * On the reset link's page of an account that signs in with passkeys only: add a new passkey
 * (issue 18: "add a new passkey or set a password", not "change password").
 */
export async function passkeyResetChoice(d: PasskeyRecoveryDeps, token: string): Promise<string> {
  if (!(await passkeyRecoveryAccount(d, token))) return '';
  return (
    <section class="card" aria-labelledby="recover-passkey-h">
      <h2 id="recover-passkey-h">{th('passkey.recover_title')}</h2>
      <p>{th('passkey.recover_intro')}</p>
      <form method="post" action="/auth/reset/passkey" data-passkey-recover novalidate>
        <input type="hidden" name="token" value={token} />
        <Field
          name="passkeyName"
          label={t('passkey.recover_name_label')}
          required={false}
          maxlength={64}
          hint={t('passkey.name_hint')}
        />
        <button type="submit" class="primary">
          {th('passkey.recover_title')}
        </button>
        <p class="hint" data-passkey-status role="status" aria-live="polite"></p>
        <p class="hint" data-passkey-nojs>
          {th('passkey.add_nojs')}
        </p>
      </form>
      {passkeyScripts()}
    </section>
  ) as string;
}

export function registerPasskeyPages(app: FastifyInstance, d: PasskeyPagesDeps): void {
  const bundle = readFileSync(bundleFile, 'utf8');
  const script = readFileSync(scriptFile, 'utf8');
  for (const [path, body] of [
    [BUNDLE_PATH, bundle],
    [SCRIPT_PATH, script],
  ] as const)
    app.get(path, { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(body),
    );

  app.post('/auth/reset/passkey', { schema: { hide: true } }, async (_req, reply) =>
    reply
      .status(400)
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(
        Page({
          title: t('passkey.recover_title'),
          productName: d.config.productName,
          children: (
            <div class="card">
              <Notice kind="error" text={t('passkey.add_nojs')} />
              <p>{th('passkey.recover_nojs')}</p>
            </div>
          ),
        }),
      ),
  );

  // Without JavaScript the add form still posts somewhere that explains.
  app.post('/settings/passkeys/add', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    return renderSettings(d, reply, auth, { error: t('passkey.add_nojs'), status: 400 });
  });

  // The script sends the browser here when the API asks for a fresh sign-in (SES-07).
  app.post('/settings/passkeys/reauthenticate', { schema: { hide: true } }, async (req, reply) =>
    leadToReauthentication(d, req, reply, '/settings'),
  );

  app.post('/settings/passkeys/:id/remove', { schema: { hide: true } }, async (req, reply) => {
    const auth = await pageAuth(d, req, reply);
    if (!auth) return reply;
    const { id } = req.params as { id: string };
    try {
      await d.passkeys.remove(auth, id, contextOf(req));
      return reply.redirect('/settings?done=passkey_removed', 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'reauthentication_required') return leadToReauthentication(d, req, reply, '/settings');
      return renderSettings(d, reply, auth, { error: pageMessage(err), status: err.status });
    }
  });
}
