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
 * uses up the other.
 */
export const emailLinkMethod: RecoveryMethod = {
  id: 'email_link',
  label: 'Email me a link',
  byDefault: true,
  canDeliver: (account: Account) => Boolean(account.email),
  // REC-02: links live at most 24 h; until an admin sets another, LATCHKEY_RESET_TTL.
  settings: {
    emailLinkTtl: {
      min: 60,
      max: 86_400,
      default: (config) => Math.max(1, Math.round(config.resetTtl / 1000)),
      label: 'Email link lifetime (seconds)',
    },
  },
  // The link and the code are completed on the flow's own pages (RESET_LINK_PATH, /change-password).
  page: {
    intro: 'Enter your username or email address. We will email you a link and a code to choose a new password.',
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
      subject: first ? 'Set a password for your account' : 'Reset your password',
      title: first ? `Set a password for ${account.username}` : `Reset the password of ${account.username}`,
      lines: first
        ? [
            'Someone (hopefully you) asked to set a password for your account. It has none yet: you sign in with a linked external account.',
            'Choose your first password with the button below; you can keep signing in with your external account too.',
          ]
        : [
            'Someone (hopefully you) asked to reset the password of your account.',
            'Choose a new password with the button below.',
          ],
      action: { label: first ? 'Choose a password' : 'Choose a new password', url: link },
      code: { label: `Or enter this code at ${d.config.publicUrl}/change-password`, value: formatResetCode(code) },
      after: [
        `The link and the code expire in ${formatDuration(ttl)} (at ${formatTime(expiresAt)}) and work once.`,
        first
          ? "Didn't ask for this? You can ignore this mail; nothing has changed."
          : "Didn't ask for this? You can ignore this mail; your password has not changed.",
      ],
    });
    await d.outbox.send(trx, { channel: 'email', kind: 'password_reset', to: account.email as string, ...mail });
  },
};
