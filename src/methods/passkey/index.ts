import { AppError } from '../../errors.ts';
import type { FactorOffer, SecondFactorMethod } from '../../flows/signin/second-factor.ts';
import { t } from '../../i18n/index.ts';
import { listPasskeys } from '../../store/passkeys.ts';
import { accountAssertionOptions, verifyAssertion } from './ceremony.ts';
import { secondFactorFragment } from './scripts.tsx';
import { asAssertion } from './webauthn.ts';

/**
 * A passkey as the second factor after a password or an external account (MFA-04): `begin` asks
 * for an assertion by one of the account's own passkeys, with a challenge bound to the
 * half-finished sign-in; user verification is welcome but not required here, since the first
 * factor is already proved.
 */
export const passkeyFactor: SecondFactorMethod = {
  id: 'passkey',
  // Read while rendering, so it is said in the reader's language.
  get label() {
    return t('passkey.label');
  },
  amr: ['hwk'],
  answer: 'webauthn',
  async enrolled(d, accountId) {
    return (await listPasskeys(d.db, accountId)).some((k) => !k.flagged_at);
  },
  async begin(d, accountId, pendingId) {
    return { options: await accountAssertionOptions(d, accountId, 'second_factor', pendingId) };
  },
  pageFragment: (offer: FactorOffer) => secondFactorFragment(offer),
  async verify(d, accountId, answer, pendingId, ctx) {
    try {
      await verifyAssertion(d, asAssertion(answer), 'second_factor', pendingId, ctx, {
        requireUserVerification: false,
        accountId,
      });
    } catch (err) {
      // The step counts and audits `invalid_code` as a wrong answer, whatever the factor.
      if (err instanceof AppError && err.code === 'passkey_failed') throw new AppError('invalid_code', err.title);
      throw err;
    }
    return undefined;
  },
};
