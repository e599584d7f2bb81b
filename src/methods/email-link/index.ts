import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatDuration, formatTime, renderMail } from '../../delivery/templates.ts';
import {
  formatResetCode,
  RESET_CODE_ALPHABET,
  RESET_CODE_LENGTH,
  RESET_LINK_PATH,
  type RecoveryMethod,
  type RecoveryMethodDeps,
  recoveryCodeHash,
} from '../../flows/recovery/method.ts';
import { t } from '../../i18n/index.ts';
import { sha256 } from '../../security/hashing.ts';
import { newCode, newId, newToken } from '../../security/random.ts';
import type { Account } from '../../store/accounts.ts';
import { insertRecoveryCode } from '../../store/recovery-codes.ts';
import type { Database } from '../../store/schema.ts';

declare module '../../flows/recovery/method.ts' {
  interface RecoverySettings {
    emailLinkTtl: number;
  }
}

/**
 * Email link + typed code in one mail: the link for the device that reads the mail, the code for
 * typing on another device at /change-password. One row holds both hashes, so using either one
 * uses up the other. Its words are getters, read while a page is made, in its language.
 */
export const emailLinkMethod: RecoveryMethod = {
  id: 'email_link',
  get label() {
    return t('email-link.label');
  },
  byDefault: true,
  canDeliver: (account: Account) => Boolean(account.email),
  // REC-02: links live at most 24 h; until an admin sets another, LATCHKEY_RESET_TTL.
  settings: {
    emailLinkTtl: {
      min: 60,
      max: 86_400,
      default: (config) => Math.max(1, Math.round(config.resetTtl / 1000)),
      get label() {
        return t('email-link.setting_ttl');
      },
    },
  },
  // The link and the code are completed on the flow's own pages (RESET_LINK_PATH, /change-password).
  page: {
    get intro() {
      return t('email-link.intro');
    },
  },

  async issue(
    d: RecoveryMethodDeps,
    trx: Kysely<Database>,
    account: Account,
    flowId: string,
    _ctx: RequestContext,
  ): Promise<void> {
    const now = d.clock.now();
    const token = newToken(d.random, 32); // 256 bits
    const code = newCode(d.random, RESET_CODE_ALPHABET, RESET_CODE_LENGTH); // 40 bits
    // The organization's link lifetime (REC-02; LATCHKEY_RESET_TTL unless an admin set another).
    const ttl = 1000 * (await d.organizations.recoveryFor(account, trx)).emailLinkTtl;
    const expiresAt = now + ttl;
    await insertRecoveryCode(trx, {
      id: newId(d.random),
      account_id: account.id,
      method: 'email_link',
      flow_id: flowId,
      token_hash: sha256(token),
      code_hash: recoveryCodeHash(d, account.id, code),
      expires_at: expiresAt,
      failed_attempts: 0,
      resends: 0,
      used_at: null,
      target: null,
      created_at: now,
    });
    // REC-05: always the configured public URL, never the Host of the request that asked.
    const link = `${d.config.publicUrl}${RESET_LINK_PATH}?token=${encodeURIComponent(token)}`;
    // An account made from an external sign-in has no password yet: the same link sets its first one.
    const first = account.password_hash === null;
    const mail = renderMail(await d.organizations.brandFor(account, trx), {
      subject: first ? t('email-link.subject_first') : t('email-link.subject'),
      title: first
        ? t('email-link.title_first', { username: account.username })
        : t('email-link.title', { username: account.username }),
      lines: first
        ? [t('email-link.asked_first'), t('email-link.choose_below_first')]
        : [t('email-link.asked'), t('email-link.choose_below')],
      action: { label: first ? t('email-link.action_first') : t('email-link.action'), url: link },
      code: {
        label: t('email-link.code_label', { url: `${d.config.publicUrl}/change-password` }),
        value: formatResetCode(code),
      },
      after: [
        t('email-link.expires', { duration: formatDuration(ttl), time: formatTime(expiresAt) }),
        first ? t('email-link.ignore_first') : t('email-link.ignore'),
      ],
    });
    await d.outbox.send(trx, { channel: 'email', kind: 'password_reset', to: account.email as string, ...mail });
  },
};
