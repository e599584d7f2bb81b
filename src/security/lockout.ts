import type { RequestContext } from '../context.ts';
import type { Deps } from '../deps.ts';
import { formatDuration, formatTime, renderMail } from '../delivery/templates.ts';
import { findAccount, findAccountByIdentifier } from '../store/accounts.ts';
import type { SignInGate } from './guard.ts';
import { type Counter, type CounterStore, ipKey, type LimitSettings, subjectKey } from './limits.ts';

// Sign-in brute force (BF-01, BF-03, BF-04). Consecutive failures are counted per account (under
// the account id, so username and email share one count) and, for identifiers that match no
// account, per identifier, so both behave the same from outside. Past `captchaAfter` failures
// (for the account or from the IP) a CAPTCHA is required; past `lockAfter` the account is locked
// for a progressively longer time; at the hard cap it stays locked until a password reset.
// A locked account answers exactly like a wrong password (the caller makes sure of that), and
// recovery by email is never blocked by it.

export class SignInLockout {
  private readonly failures: Counter;
  private readonly ipFailures: Counter;
  private readonly locks: Counter;
  private readonly captchaAfter: number;
  private readonly lockAfter: number;
  private readonly hardCap: number;

  constructor(
    private readonly d: Deps,
    private readonly s: LimitSettings,
    store: CounterStore,
    private readonly allowNotice: (accountId: string) => Promise<boolean>,
  ) {
    this.captchaAfter = s.captchaAfter * s.scale;
    this.lockAfter = s.lockAfter * s.scale;
    this.hardCap = s.hardCap * s.scale;
    // Points far above the hard cap: these count, they never refuse by themselves.
    this.failures = store.counter('signin-fail', { points: 1_000_000_000, windowMs: s.memoryMs });
    this.ipFailures = store.counter('signin-ipfail', { points: 1_000_000_000, windowMs: s.lockMaxMs });
    this.locks = store.counter('signin-lock', { points: 1, windowMs: 1000 });
  }

  /**
   * The counting key: the account when the identifier names one, else the identifier itself.
   * `accountId` undefined: not looked up yet; null: the identifier names no account.
   */
  private async keyFor(identifierKey: string, accountId?: string | null): Promise<string> {
    const id = accountId === undefined ? (await findAccountByIdentifier(this.d.db, identifierKey))?.id : accountId;
    return id ? `a:${subjectKey(this.d, id)}` : `i:${subjectKey(this.d, identifierKey)}`;
  }

  async gate(identifierKey: string, ctx: RequestContext, accountId?: string | null): Promise<SignInGate> {
    const key = await this.keyFor(identifierKey, accountId);
    const [failures, ipFailures, lockedMs] = await Promise.all([
      this.failures.count(key),
      this.ipFailures.count(ipKey(ctx)),
      this.locks.blockedFor(key),
    ]);
    return {
      locked: lockedMs > 0 || failures >= this.hardCap,
      captchaRequired: failures >= this.captchaAfter || ipFailures >= this.captchaAfter,
      failuresCounted: failures > 0,
    };
  }

  async failed(identifierKey: string, accountId: string | null, ctx: RequestContext): Promise<void> {
    const key = await this.keyFor(identifierKey, accountId);
    const [{ count }] = await Promise.all([this.failures.hit(key), this.ipFailures.hit(ipKey(ctx))]);
    if (count < this.lockAfter) return;
    const lockMs =
      count >= this.hardCap
        ? this.s.memoryMs
        : Math.min(this.s.lockMaxMs, this.s.lockBaseMs * 2 ** Math.min(30, count - this.lockAfter));
    await this.locks.block(key, lockMs);
    // Only the failure that starts a lockout (or reaches the hard cap) is news worth recording.
    if ((count === this.lockAfter || count === this.hardCap) && accountId) {
      await this.d.audit.record('sign_in.locked', ctx, {
        accountId,
        details: { failures: count, lockSeconds: Math.round(lockMs / 1000), hardCap: count >= this.hardCap },
      });
      this.d.metrics.signIns.inc({ method: 'password', outcome: 'locked' });
      if (await this.allowNotice(accountId)) await this.notify(accountId, lockMs);
    }
  }

  /**
   * A success clears the consecutive failures. When the attempt's gate saw none there is nothing
   * to clear, and the common sign-in costs no keyed hash and no counter round trip for it.
   */
  async succeeded(identifierKey: string, accountId: string, gate?: SignInGate): Promise<void> {
    if (gate && !gate.failuresCounted) return;
    await this.failures.clear(await this.keyFor(identifierKey, accountId));
  }

  /** After a password reset or change the owner is back in control: the lockout ends (BF-03). */
  async clear(accountId: string): Promise<void> {
    const key = `a:${subjectKey(this.d, accountId)}`;
    await Promise.all([this.failures.clear(key), this.locks.clear(key)]);
  }

  private async notify(accountId: string, lockMs: number): Promise<void> {
    const d = this.d;
    const account = await findAccount(d.db, accountId);
    if (!account?.email) return;
    const mail = renderMail(d.brand, {
      subject: 'We blocked sign-in attempts on your account',
      title: 'We blocked sign-in attempts on your account',
      lines: [
        `Someone tried to sign in to your account ${account.username} with a wrong password several times (last at ${formatTime(d.clock.now())}).`,
        `To protect you, we are refusing password sign-ins for ${formatDuration(lockMs)}.`,
        'If it was you: wait and try again, or reset your password now; a reset works even while sign-in is blocked.',
      ],
      action: { label: 'Reset your password', url: `${d.config.publicUrl}/forgot-password` },
      after: [
        `If it wasn't you, your password is still safe, but consider changing it. Questions: ${d.brand.supportContact}.`,
      ],
    });
    await d.db.transaction().execute(async (trx) => {
      await d.outbox.send(trx, { channel: 'email', kind: 'lockout_notice', to: account.email as string, ...mail });
    });
  }
}
