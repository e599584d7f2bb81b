import type { FastifyInstance } from 'fastify';
import { AppError, pageMessage } from '../../errors.ts';
import { t, th } from '../../i18n/index.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { SectionError } from '../../web/extras.ts';
import { Field, Html, Notice } from '../../web/layout.tsx';
import { contextOf, field } from '../../web/request.ts';
import { type AccountPagesDeps, pageAuth, renderSettings } from '../account/pages.tsx';
import type { OrganizationService } from '../organizations/service.ts';
import type { RecoveryMethods } from '../recovery/method.ts';
import { maskPhone, PHONE_EXAMPLE } from './numbers.ts';
import type { PhoneService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type PhonePagesDeps = {
  recoveryMethods: RecoveryMethods;
  organizations: OrganizationService;
  phone: PhoneService;
} & AccountPagesDeps;

void Html;

/** The notices after a redirect, by their `done` code: catalog keys, said in the page's language. */
const FLASH: Record<string, string> = {
  phone_code_sent: 'phone.flash_code_sent',
  phone_verified: 'phone.flash_verified',
  phone_removed: 'phone.flash_removed',
};

/** The "Recovery methods" and "Mobile number" sections of /settings. */
export async function phoneSection(
  d: PhonePagesDeps,
  auth: Authenticated,
  flash: string | undefined,
  error?: SectionError,
): Promise<string> {
  const a = auth.account;
  const org = await d.organizations.ofAccount(a);
  const verified = a.phone && a.phone_verified_at ? a.phone : null;
  const pending = await d.phone.pending(a.id);
  const usable = d.recoveryMethods.all().filter((m) => org.recovery.methods.includes(m.id) && m.canDeliver(a));
  const smsMissing = org.recovery.methods.includes('sms_otp') && !verified;
  return (
    <>
      <section class="card" aria-labelledby="recovery-methods-h">
        <h2 id="recovery-methods-h">{th('phone.recovery_methods')}</h2>
        {usable.length ? (
          <ul>
            {usable.map((m) => (
              <li safe>{m.label}</li>
            ))}
          </ul>
        ) : (
          <p>{th('phone.no_recovery')}</p>
        )}
        {smsMissing ? <p>{th('phone.add_for_sms')}</p> : ''}
      </section>
      <section class="card" id="phone" aria-labelledby="phone-h">
        <h2 id="phone-h">{th('phone.mobile_number')}</h2>
        <Notice kind="success" text={flash && Object.hasOwn(FLASH, flash) ? t(FLASH[flash] as string) : undefined} />
        <Notice kind="error" text={error?.section === 'phone' ? error.text : undefined} />
        {verified ? (
          <p>{th('phone.confirmed', { phone: maskPhone(verified), n: (s) => `<span>${s}</span>` })}</p>
        ) : (
          <p>{th('phone.none_confirmed')}</p>
        )}
        {pending ? (
          <form method="post" action="/settings/phone/confirm#phone" novalidate>
            <p>{th('phone.enter_code_sent_to', { phone: pending })}</p>
            <Field
              name="code"
              label={t('phone.code_label')}
              autocomplete="one-time-code"
              inputmode="numeric"
              maxlength={12}
            />
            <button type="submit" class="primary">
              {th('phone.confirm_number')}
            </button>
          </form>
        ) : (
          ''
        )}
        <form method="post" action="/settings/phone#phone" novalidate>
          <Field
            name="phone"
            label={verified ? t('phone.new_mobile_number') : t('phone.mobile_number')}
            type="tel"
            autocomplete="tel"
            maxlength={40}
            hint={t('phone.number_hint', { example: PHONE_EXAMPLE })}
          />
          <button type="submit">{verified ? th('phone.change_number') : th('phone.add_number')}</button>
        </form>
        {a.phone ? (
          <form method="post" action="/settings/phone/remove#phone">
            <button type="submit">{th('phone.remove_number')}</button>
          </form>
        ) : (
          ''
        )}
      </section>
    </>
  ) as string;
}

export function registerPhonePages(app: FastifyInstance, d: PhonePagesDeps): void {
  const handle = (
    path: string,
    run: (auth: Authenticated, body: unknown, ctx: ReturnType<typeof contextOf>) => Promise<string>,
  ) =>
    app.post(path, { schema: { hide: true } }, async (req, reply) => {
      const auth = await pageAuth(d, req, reply);
      if (!auth) return reply;
      try {
        const done = await run(auth, req.body, contextOf(req));
        return reply.redirect(`/settings?done=${done}#phone`, 303);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(err.extra.retryAfter)));
        return renderSettings(d, reply, auth, { error: pageMessage(err), status: err.status, section: 'phone' });
      }
    });
  handle('/settings/phone', async (auth, body, ctx) => {
    await d.phone.startVerification(auth, { phone: field(body, 'phone', 40) }, ctx);
    return 'phone_code_sent';
  });
  handle('/settings/phone/confirm', async (auth, body, ctx) => {
    await d.phone.confirm(auth, { code: field(body, 'code', 32) }, ctx);
    return 'phone_verified';
  });
  handle('/settings/phone/remove', async (auth, _body, ctx) => {
    await d.phone.remove(auth, ctx);
    return 'phone_removed';
  });
}
