import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Values } from '../../i18n/translate.ts';
import type { Kernel } from '../../kernel.ts';
import type { Account } from '../../store/accounts.ts';
import type { Database } from '../../store/schema.ts';

// The mails about second factors (LOG-03, MFA-05, MFA-06), queued through the outbox in the
// transaction of the change. They name what changed, never a secret.

export type FactorNoticeDeps = Pick<Kernel, 'config' | 'clock' | 'brand' | 'outbox'>;

export type FactorNotice =
  | { kind: 'factor_added'; factor: string }
  | { kind: 'factor_removed'; factor: string }
  | { kind: 'recovery_codes_regenerated' }
  | { kind: 'recovery_code_used'; left: number };

/** Each notice's title and first line, from the catalog in the recipient's language. */
const TEXT: { [K in FactorNotice['kind']]: (n: Extract<FactorNotice, { kind: K }>, v: Values) => [string, string] } = {
  factor_added: (n, v) => [t('factors.mail.added_title'), t('factors.mail.added_line', { ...v, factor: n.factor })],
  factor_removed: (n, v) => [
    t('factors.mail.removed_title'),
    t('factors.mail.removed_line', { ...v, factor: n.factor }),
  ],
  recovery_codes_regenerated: (_n, v) => [t('factors.mail.codes_title'), t('factors.mail.codes_line', v)],
  recovery_code_used: (n, v) => [
    t('factors.mail.code_used_title'),
    t('factors.mail.code_used_line', { ...v, left: n.left }),
  ],
};

export async function sendFactorNotice(
  d: FactorNoticeDeps,
  db: Kysely<Database>,
  account: Pick<Account, 'username' | 'email' | 'locale'>,
  n: FactorNotice,
  ctx: RequestContext,
): Promise<void> {
  if (!account.email) return;
  // The recipient's saved language, else the language of their own request that caused it.
  const mail = withLocale(account.locale ?? currentLocale(), () => {
    const when = { username: account.username, time: formatTime(d.clock.now()) };
    const [title, line] = (TEXT[n.kind] as (x: FactorNotice, v: Values) => [string, string])(n, when);
    return renderMail(d.brand, {
      subject: title,
      title,
      lines: [
        line,
        t('factors.mail.browser', { browser: ctx.userAgent ? ctx.userAgent.slice(0, 160) : t('factors.mail.unknown') }),
        t('factors.mail.ip', { ip: ctx.ip || t('factors.mail.unknown') }),
      ],
      after: [
        t('factors.mail.not_you', { url: `${d.config.publicUrl}/forgot-password`, support: supportName(d.brand) }),
      ],
    });
  });
  await d.outbox.send(db, { channel: 'email', kind: n.kind, to: account.email, ...mail });
}
