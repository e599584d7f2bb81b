import type { SecondFactorMethod } from '../../flows/signin/second-factor.ts';
import { t } from '../../i18n/index.ts';
import { checkTotp, hasTotp } from './totp.ts';

/** The authenticator app as a second factor at sign-in (MFA-01..MFA-03). */
export const totpFactor: SecondFactorMethod = {
  id: 'totp',
  // Read while rendering, so it is said in the reader's language.
  get label() {
    return t('totp.label');
  },
  amr: ['otp'],
  answer: 'code',
  // checkTotp: a read and one conditional UPDATE through d.db
  inTransaction: true,
  enrolled: (d, accountId) => hasTotp(d, accountId),
  async verify(d, accountId, answer) {
    await checkTotp(d, accountId, answer);
    return undefined;
  },
};
