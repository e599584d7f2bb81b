import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Kernel } from '../../kernel.ts';
import { identifierKey } from '../../security/identifiers.ts';
import { normalizePassword } from '../../security/password-policy.ts';
import { type Account, findAccountByIdentifier } from '../../store/accounts.ts';

/** What this module uses of the container the composition root builds. */
export type PasswordSignInDeps = Pick<Kernel, 'db' | 'hasher' | 'audit' | 'metrics' | 'guard' | 'captcha'>;

/** Whether the next password attempt for `identifier` must carry a CAPTCHA (BF-04); counts nothing. */
export async function captchaRequiredNext(
  d: PasswordSignInDeps,
  identifier: string,
  ctx: RequestContext,
): Promise<boolean> {
  const account = await findAccountByIdentifier(d.db, identifier);
  return (await d.guard.signInGate(identifierKey(identifier), ctx, account?.id ?? null)).captchaRequired;
}

/**
 * Password proof for the sign-in flow. Unknown user, wrong password, pending, disabled and
 * locked accounts all end in the same `invalid_credentials` after the same hashing work
 * (ENUM-01, BF-01): the reason is kept only in the audit trail.
 *
 * Every attempt is counted before its hash runs (BF-06): first toward the CAPTCHA step-up, so
 * past it an attempt without a valid CAPTCHA is refused before any hashing, then as a failure of
 * the account's run, so of a parallel burst only the attempts before the lockout get a real
 * password check. A locked account's attempt spends the same work on the dummy hash instead:
 * its password is never checked, and it still costs what a wrong password costs.
 */
export async function checkPassword(
  d: PasswordSignInDeps,
  input: { identifier: string; password: string; captcha?: string },
  ctx: RequestContext,
): Promise<Account> {
  const key = identifierKey(input.identifier);
  await d.guard.limit('sign_in', ctx);
  if ((await d.guard.signInStepUp(key, ctx)) && !(await d.captcha.verify(input.captcha, ctx))) {
    await d.audit.record('captcha.failed', ctx, { details: { flow: 'sign_in' } });
    throw new AppError(input.captcha ? 'captcha_invalid' : 'captcha_required');
  }
  const account = await findAccountByIdentifier(d.db, input.identifier);
  const attempt = await d.guard.signInReserve(key, account?.id ?? null, ctx);
  const password = normalizePassword(input.password);
  let ok = false;
  if (account?.password_hash && !attempt.locked) ok = await d.hasher.verify(account.password_hash, password);
  else await d.hasher.burn(password);

  const reason = !account
    ? 'unknown_account'
    : !account.password_hash
      ? 'no_password'
      : attempt.locked
        ? 'locked'
        : !ok
          ? 'wrong_password'
          : account.status !== 'active'
            ? account.status
            : null;
  if (reason) {
    await d.guard.signInFailed(key, account?.id ?? null, ctx, attempt);
    await d.audit.record('sign_in.failed', ctx, {
      accountId: account?.id ?? null,
      details: { method: 'password', reason },
    });
    d.metrics.signIns.inc({ method: 'password', outcome: 'failure' });
    throw new AppError('invalid_credentials');
  }
  const acct = account as Account;
  await d.guard.signInSucceeded(key, acct.id, ctx, attempt);
  if (d.hasher.needsRehash(acct.password_hash as string)) {
    // PWD-07: parameters were raised since this hash was made; upgrade while we hold the password.
    const upgraded = await d.hasher.hash(password);
    await d.db
      .updateTable('accounts')
      .set({ password_hash: upgraded })
      .where('id', '=', acct.id)
      .where('password_hash', '=', acct.password_hash)
      .execute();
  }
  return acct;
}
