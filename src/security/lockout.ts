import type { Kysely } from 'kysely';
import type { RequestContext } from '../context.ts';
import { formatDuration, formatTime, renderMail, supportName } from '../delivery/templates.ts';
import { t, withLocale } from '../i18n/index.ts';
import type { Kernel } from '../kernel.ts';
import { findAccount, findAccountByIdentifier } from '../store/accounts.ts';
import { openReviewItem } from '../store/review-items.ts';
import type { Database } from '../store/schema.ts';
import { clearFailures, deleteForgottenFailures, readFailures, reserveFailure } from '../store/sign-in-failures.ts';
import { type Counter, type CounterStore, subjectKey } from './counters.ts';
import type { SignInAttempt, SignInGate } from './guard.ts';

/** What this module uses of the container the composition root builds. */
export type LockoutDeps = Pick<
  Kernel,
  'config' | 'db' | 'clock' | 'random' | 'brand' | 'outbox' | 'audit' | 'metrics' | 'secret' | 'log'
>;

/** The lockout's numbers, from the limit settings (LATCHKEY_LOCKOUT_*, LATCHKEY_CAPTCHA_AFTER). */
export interface LockoutSettings {
  scale: number;
  captchaAfter: number;
  lockAfter: number;
  lockBaseMs: number;
  lockMaxMs: number;
  hardCap: number;
  memoryMs: number;
}

// Sign-in brute force (BF-01, BF-03, BF-04, BF-06). Two counts, both taken before a password is
// checked, so parallel attempts can never all see the same low number:
//  - the CAPTCHA step-up counts attempts per identifier as typed and per IP (in the counter store:
//    memory or Redis). Counting per identifier rather than per account keeps it from telling
//    which email belongs to which username (ENUM-04). Past `captchaAfter` a CAPTCHA is required.
//  - the lockout counts consecutive failures per account (username and email share one run) in
//    the database, so neither a Redis outage nor a restart forgets it (AV-03). Identifiers that
//    name no account are counted the same way, so both cost the same. Past `lockAfter` the
//    account is locked for a progressively longer time; at the hard cap until a password reset.
// Each attempt is counted as a failure up front (reserved); a success clears the account's run but
// only takes back its own step-up counts, never earlier ones (ENUM-04). A locked
// account answers exactly like a wrong password (the caller makes sure of that), and recovery by
// email is never blocked by it.

/** How often (by the injected clock) an attempt also sweeps the forgotten runs. */
const SWEEP_EVERY_MS = 60_000;

export class SignInLockout {
  private lastSweep = Number.NEGATIVE_INFINITY;
  private readonly pending = new Set<Promise<void>>();
  private readonly typed: Counter;
  private readonly fromIp: Counter;
  private readonly captchaAfter: number;
  private readonly lockAfter: number;
  private readonly hardCap: number;

  constructor(
    private readonly d: LockoutDeps,
    private readonly s: LockoutSettings,
    store: CounterStore,
    private readonly ipKey: (ctx: RequestContext) => string,
    private readonly allowNotice: (accountId: string) => Promise<boolean>,
  ) {
    this.captchaAfter = s.captchaAfter * s.scale;
    this.lockAfter = s.lockAfter * s.scale;
    this.hardCap = s.hardCap * s.scale;
    // Points far above any threshold: these count, they never refuse by themselves.
    this.typed = store.counter('signin-typed', { points: 1_000_000_000, windowMs: s.memoryMs });
    this.fromIp = store.counter('signin-ipfail', { points: 1_000_000_000, windowMs: s.lockMaxMs });
  }

  private typedKey(identifierKey: string): string {
    return `t:${subjectKey(this.d, identifierKey)}`;
  }

  /** The lockout's key: the account when the identifier names one, else the identifier (hashed). */
  private runKey(identifierKey: string, accountId: string | null): string {
    return accountId ? `a:${accountId}` : `i:${subjectKey(this.d, identifierKey)}`;
  }

  private lockMs(failures: number): number {
    return failures >= this.hardCap
      ? this.s.memoryMs
      : Math.min(this.s.lockMaxMs, this.s.lockBaseMs * 2 ** Math.min(30, failures - this.lockAfter));
  }

  /** Whether a run of `failures`, the latest counted at `at`, keeps the account locked at `now`. */
  private lockedBy(failures: number, at: number, now: number): boolean {
    if (failures >= this.hardCap) return true;
    return failures >= this.lockAfter && now < at + this.lockMs(failures);
  }

  /** Where the next attempt would stand, counting nothing (for pages and tests). */
  async gate(identifierKey: string, ctx: RequestContext, accountId?: string | null): Promise<SignInGate> {
    const id =
      accountId === undefined ? ((await findAccountByIdentifier(this.d.db, identifierKey))?.id ?? null) : accountId;
    const now = this.d.clock.now();
    const [typed, fromIp, run] = await Promise.all([
      this.typed.count(this.typedKey(identifierKey)),
      this.fromIp.count(this.ipKey(ctx)),
      readFailures(this.d.db, this.runKey(identifierKey, id), now - this.s.memoryMs),
    ]);
    return {
      locked: this.lockedBy(run.failures, run.lastAt, now),
      captchaRequired: typed >= this.captchaAfter || fromIp >= this.captchaAfter,
      failuresCounted: run.failures > 0,
    };
  }

  /** Counts the attempt toward the step-up; true when it must carry a valid CAPTCHA. */
  async stepUp(identifierKey: string, ctx: RequestContext): Promise<boolean> {
    const [typed, fromIp] = await Promise.all([
      this.typed.hit(this.typedKey(identifierKey)),
      this.fromIp.hit(this.ipKey(ctx)),
    ]);
    return typed.count > this.captchaAfter || fromIp.count > this.captchaAfter;
  }

  /**
   * Counts the attempt as a failure of the account's run before its password is checked: one
   * atomic upsert, so of N parallel attempts each knows how many came before it. Locked when the
   * run before it had reached the lockout and the lock from its latest attempt still holds.
   */
  async reserve(identifierKey: string, accountId: string | null): Promise<SignInAttempt> {
    const now = this.d.clock.now();
    // Rows are only ever added here, so sweeping here (once a minute, whoever the attempt is
    // for) keeps the table to the runs of the last LATCHKEY_LOCKOUT_MEMORY.
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now;
      await deleteForgottenFailures(this.d.db, now - this.s.memoryMs).catch((err) =>
        this.d.log.warn({ err }, 'could not sweep forgotten sign-in failures'),
      );
    }
    const { failures, prevAt } = await reserveFailure(
      this.d.db,
      this.runKey(identifierKey, accountId),
      now,
      now - this.s.memoryMs,
    );
    return {
      locked: this.lockedBy(failures - 1, prevAt, now),
      captchaRequired: false,
      failuresCounted: true,
      failures,
    };
  }

  /** The attempt failed: its reservation stays. Without one (a wrong current password) it is counted now. */
  async failed(
    identifierKey: string,
    accountId: string | null,
    ctx: RequestContext,
    attempt?: SignInAttempt,
  ): Promise<void> {
    let count = attempt?.failures;
    if (count === undefined)
      [{ failures: count }] = await Promise.all([
        this.reserve(identifierKey, accountId),
        this.fromIp.hit(this.ipKey(ctx)),
      ]);
    // Only the failure that starts a lockout (or reaches the hard cap) is news worth recording;
    // each count is handed out once, so it is recorded once however many processes take part.
    if ((count !== this.lockAfter && count !== this.hardCap) || !accountId) return;
    this.d.metrics.signIns.inc({ method: 'password', outcome: 'locked' });
    // The audit row, notice quota, account look-up and mail are work an unknown identifier never
    // does: done after the answer, so the attempt that locks an account answers as fast as any
    // other failure (ENUM-01).
    this.afterAnswer(() => this.recordLock(accountId, count, ctx));
  }

  private async recordLock(accountId: string, failures: number, ctx: RequestContext): Promise<void> {
    const lockMs = this.lockMs(failures);
    await this.d.audit.record('sign_in.locked', ctx, {
      accountId,
      details: { failures, lockSeconds: Math.round(lockMs / 1000), hardCap: failures >= this.hardCap },
    });
    // At the hard cap the account stays locked until a reset: a persistent attack staff should see.
    if (failures >= this.hardCap)
      await openReviewItem(this.d, {
        kind: 'lockout_hard_cap',
        accountId,
        reason: `Sign-in locked after ${failures} consecutive failed password attempts (the hard cap); it stays locked until a password reset`,
        details: { failures },
      });
    if (await this.allowNotice(accountId)) await this.notify(accountId, lockMs);
  }

  /** Runs `task` once the current request has moved on; its failure is logged, never answered. */
  private afterAnswer(task: () => Promise<void>): void {
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(task)
      .catch((err) => this.d.log.error({ err }, 'sign-in lockout bookkeeping failed'))
      .finally(() => this.pending.delete(run));
    this.pending.add(run);
  }

  /** Waits for the bookkeeping still running after its answer (at shutdown, and in tests). */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all(this.pending);
  }

  /**
   * A success ends the account's run and gives back only the step-up counts this attempt took.
   * Earlier failures under the identifier stay counted: unknown identifiers are never cleared, so
   * clearing a real one would tell a prober that it names an account its owner just used (ENUM-04).
   */
  async succeeded(identifierKey: string, accountId: string, ctx: RequestContext): Promise<void> {
    await Promise.all([
      clearFailures(this.d.db, this.runKey(identifierKey, accountId)),
      this.typed.reward(this.typedKey(identifierKey)),
      this.fromIp.reward(this.ipKey(ctx)),
    ]);
  }

  /** After a password reset or change the owner is back in control: the lockout ends (BF-03). */
  async clear(accountId: string, trx: Kysely<Database> = this.d.db): Promise<void> {
    await clearFailures(trx, `a:${accountId}`);
  }

  private async notify(accountId: string, lockMs: number): Promise<void> {
    const d = this.d;
    const account = await findAccount(d.db, accountId);
    if (!account?.email) return;
    // Caused by someone else's request (perhaps an attacker's): the account's language, else the install's.
    const mail = withLocale(account.locale, () =>
      renderMail(d.brand, {
        subject: t('security.lockout.subject'),
        title: t('security.lockout.subject'),
        lines: [
          t('security.lockout.line', { username: account.username, time: formatTime(d.clock.now()) }),
          t('security.lockout.refusing', { duration: formatDuration(lockMs) }),
          t('security.lockout.if_you'),
        ],
        action: { label: t('security.lockout.action'), url: `${d.config.publicUrl}/forgot-password` },
        after: [t('security.lockout.not_you', { support: supportName(d.brand) })],
      }),
    );
    await d.db.transaction().execute(async (trx) => {
      await d.outbox.send(trx, { channel: 'email', kind: 'lockout_notice', to: account.email as string, ...mail });
    });
  }
}
