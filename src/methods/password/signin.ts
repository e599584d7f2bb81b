import type { RequestContext } from '../../context.ts';
import type { Deps } from '../../deps.ts';
import { AppError } from '../../errors.ts';
import { type Account, findAccountByIdentifier } from '../../store/accounts.ts';
import { identifierKey } from '../../security/identifiers.ts';
import { normalizePassword } from '../../security/password-policy.ts';

/**
 * An identifier with case, spacing and Unicode forms folded: what sign-in attempts are counted
 * under. Unlike the recovery flow's `identifierKey` it stays an identifier, since the lockout
 * looks the account up by it when the caller has not.
 */
function foldIdentifier(identifier: string): string {
  return identifierKey(identifier);
}

/**
 * Where a password attempt for `identifier` stands before its password is checked (BF-01,
 * BF-04). One lookup serves the gate (it counts failures under the account, or under the
 * identifier when it names none) and the password check.
 */
async function standing(d: Deps, identifier: string, ctx: RequestContext) {
  const account = await findAccountByIdentifier(d.db, identifier);
  const gate = await d.guard.signInGate(foldIdentifier(identifier), ctx, account?.id ?? null);
  return { account, gate };
}

/** Whether the next password attempt for `identifier` must carry a CAPTCHA (BF-04). */
export async function captchaRequiredNext(d: Deps, identifier: string, ctx: RequestContext): Promise<boolean> {
  return (await standing(d, identifier, ctx)).gate.captchaRequired;
}

/**
 * Password proof for the sign-in flow. Unknown user, wrong password, pending, disabled and
 * locked accounts all end in the same `invalid_credentials` after the same hashing work
 * (ENUM-01, BF-01): the reason is kept only in the audit trail.
 */
export async function checkPassword(
  d: Deps,
  input: { identifier: string; password: string; captcha?: string },
  ctx: RequestContext,
): Promise<Account> {
  const key = foldIdentifier(input.identifier);
  await d.guard.limit('sign_in', ctx);
  const { account, gate } = await standing(d, input.identifier, ctx);
  if (gate.captchaRequired && !(await d.captcha.verify(input.captcha, ctx))) {
    await d.audit.record('captcha.failed', ctx, { details: { flow: 'sign_in' } });
    throw new AppError(input.captcha ? 'captcha_invalid' : 'captcha_required');
  }
  const password = normalizePassword(input.password);
  let ok = false;
  if (account?.password_hash) ok = await d.hasher.verify(account.password_hash, password);
  else await d.hasher.burn(password);

  const reason = !account
    ? 'unknown_account'
    : !account.password_hash
      ? 'no_password'
      : !ok
        ? 'wrong_password'
        : gate.locked
          ? 'locked'
          : account.status !== 'active'
            ? account.status
            : null;
  if (reason) {
    await d.guard.signInFailed(key, account?.id ?? null, ctx);
    await d.audit.record('sign_in.failed', ctx, {
      accountId: account?.id ?? null,
      details: { method: 'password', reason },
    });
    d.metrics.signIns.inc({ method: 'password', outcome: 'failure' });
    throw new AppError('invalid_credentials');
  }
  const acct = account as Account;
  await d.guard.signInSucceeded(key, acct.id, ctx, gate);
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
