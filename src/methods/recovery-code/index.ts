import { sendFactorNotice } from '../../flows/factors/notices.ts';
import type { SecondFactorMethod } from '../../flows/signin/second-factor.ts';
import { t } from '../../i18n/index.ts';
import { findAccount } from '../../store/accounts.ts';
import { recoveryCodesLeft, useRecoveryCode } from './codes.ts';

/**
 * Recovery codes as the backup second factor (MFA-05): offered next to a real factor, each code
 * once; using one notifies the user, and the step tells how many remain.
 */
export const recoveryCodeFactor: SecondFactorMethod = {
  id: 'recovery_code',
  // Read while rendering, so it is said in the reader's language.
  get label() {
    return t('recovery-code.label');
  },
  amr: ['kba'],
  answer: 'recoveryCode',
  backup: true,
  enrolled: async (d, accountId) => (await recoveryCodesLeft(d, accountId)) > 0,
  async verify(d, accountId, answer, _pendingId, ctx) {
    const left = await useRecoveryCode(d, accountId, answer);
    const account = await findAccount(d.db, accountId);
    if (account) await sendFactorNotice(d, d.db, account, { kind: 'recovery_code_used', left }, ctx);
    await d.audit.record('recovery_code.used', ctx, { accountId, details: { left } });
    return { notice: { recoveryCodesLeft: left } };
  },
};
