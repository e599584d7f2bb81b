import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { captchaRequiredNext, checkPassword, type PasswordSignInDeps } from '../../methods/password/signin.ts';
import { isMultiFactor, parseAmr, type SignInProof, serializeAmr, withSecondFactor } from '../../security/amr.ts';
import { cleanText } from '../../security/audit.ts';
import { sha256 } from '../../security/hashing.ts';
import { tooMany } from '../../security/limits.ts';
import { newId, newToken } from '../../security/random.ts';
import type { Account } from '../../store/accounts.ts';
import type { PreparedRead } from '../../store/db.ts';
import { orgRequiresSecondFactor } from '../../store/organizations.ts';
import {
  consumePendingSignIn,
  deleteOldPendingSignIns,
  endAbandonedPendingSignIns,
  insertPendingSignIn,
  type PendingSignIn,
  pendingLookupQuery,
  pendingLookupRow,
} from '../../store/pending-sign-ins.ts';
import type { Database } from '../../store/schema.ts';
import { clearFailures, reserveFailure } from '../../store/sign-in-failures.ts';
import { deleteExpiredTrustedDevices, insertTrustedDevice, isTrustedDevice } from '../../store/trusted-devices.ts';
import type { AccountDeletion } from '../profile/deletion.ts';
import type { Session, SessionService } from '../sessions/service.ts';
import type { AnswerField, FactorOffer, SecondFactorDeps, SecondFactorMethod, SecondFactors } from './second-factor.ts';

/** What this module uses of the container the composition root builds. */
export type SignInDeps = Pick<Kernel, 'audit' | 'metrics' | 'config' | 'clock' | 'random'> & {
  sessions: SessionService;
  secondFactors: SecondFactors;
  deletion: Pick<AccountDeletion, 'cancelOnSignIn'>;
} & PasswordSignInDeps &
  Kernel;

/** A session was issued. */
export interface SignedIn {
  status: 'signed_in';
  token: string;
  session: Session;
  account: Account;
  /** where a page flow goes next (the return_to kept through the second-factor step) */
  returnTo?: string;
  /** what the factor had to say (e.g. recovery codes remaining) */
  notice?: Record<string, unknown>;
  /** a new "don't ask again on this browser" token to set as the device cookie */
  deviceToken?: string;
  /** this sign-in cancelled a pending account deletion (the pages say so) */
  deletionCancelled?: boolean;
  /** "Keep me signed in": the session cookie lasts the session lifetime, not the browser session */
  keepSignedIn?: boolean;
}

/**
 * No session: the first factor passed and a second is needed (MFA-07). `pendingToken` goes into
 * the short-lived pending cookie, the only thing that can finish it. `enrol`: the account has no
 * factor and its organization requires one, so it must enrol first (MFA-08).
 */
export interface SecondFactorRequired {
  status: 'second_factor_required';
  pendingToken: string;
  pendingId: string;
  expiresAt: number;
  account: Account;
  enrol: boolean;
  factors: FactorOffer[];
}

export type SignInResult = SignedIn | SecondFactorRequired;

export interface CompleteOptions {
  /** a path on this service to go to once signed in (kept through the second-factor step) */
  returnTo?: string;
  /**
   * A re-authentication (SES-07, MFA-06): a remembered browser still answers the second factor,
   * since the changes it unlocks need one.
   */
  reauth?: boolean;
  /** the second factor that finished the sign-in, for the audit trail */
  factor?: string;
  /** "Keep me signed in": carried to the result, and through a second-factor step */
  keepSignedIn?: boolean;
  /**
   * The transaction the session is issued in (the second-factor step's, which also uses up the
   * half-finished sign-in); only for a proof that is already multi-factor, which reads nothing else.
   */
  db?: Kysely<Database>;
}

/** The answer to the second-factor step: exactly one field, and whether to remember this browser. */
export type SecondFactorAnswer = Partial<Record<AnswerField, unknown>> & { remember?: boolean };

/**
 * A factor that lets an account without one enrol during the sign-in when its organization
 * requires a factor (MFA-08). TOTP implements it; the step stays free of TOTP details.
 */
export interface SignInEnrolment {
  /** the factor id the client is told to enrol (`totp`) */
  factor: string;
  /** starts (or restarts) enrolment: what the client shows (secret, otpauth URI, QR) */
  begin(accountId: string, ctx: RequestContext): Promise<Record<string, unknown>>;
  /** confirms it with the client's answer; throws `invalid_code` when wrong */
  confirm(accountId: string, answer: unknown, ctx: RequestContext): Promise<Record<string, unknown>>;
}

/**
 * The sign-in flow. Each method (password, external account, passkey, QR …) proves who the user
 * is and then calls `complete`, the single step where a session is issued and where second
 * factors are enforced (BF-05), so no method can skip them.
 */
export class SignInService {
  /** set by the composition root once the factor that enrols at sign-in exists (MFA-08) */
  enrolment?: SignInEnrolment;
  private lookup?: PreparedRead;
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly d: SignInDeps) {}

  async withPassword(
    input: { identifier: string; password: string; captcha?: string },
    ctx: RequestContext,
    opts: CompleteOptions = {},
  ): Promise<SignInResult> {
    const account = await checkPassword(this.d, input, ctx);
    return this.complete(account, { method: 'password', amr: ['pwd'] }, ctx, opts);
  }

  /**
   * Whether the next password sign-in for `identifier` must carry a CAPTCHA, so the page can
   * show it up front (BF-04). Unknown identifiers are counted like real ones: this reveals
   * nothing about the account.
   */
  captchaRequired(identifier: string, ctx: RequestContext): Promise<boolean> {
    return captchaRequiredNext(this.d, identifier, ctx);
  }

  /**
   * The one place a session is issued (BF-05). A proof that is not multi-factor, for an account
   * with a second factor (or whose organization requires one, MFA-08), gets no session but a
   * half-finished sign-in (MFA-07) — unless this browser was remembered ("don't ask again").
   */
  async complete(
    account: Account,
    proof: SignInProof,
    ctx: RequestContext,
    opts: CompleteOptions = {},
  ): Promise<SignInResult> {
    if (account.status !== 'active') throw new AppError('invalid_credentials');
    if (!isMultiFactor(proof.amr)) {
      if (opts.db) throw new Error('a transaction is only for a multi-factor proof');
      const factors = await this.enrolledFactors(account.id);
      const hasFactor = factors.some((f) => !f.backup);
      const mustEnrol = !hasFactor && (await orgRequiresSecondFactor(this.d, account.org_id));
      if (mustEnrol || (hasFactor && (opts.reauth || !(await this.trustedBrowser(account.id, ctx)))))
        return this.pending(account, proof, ctx, opts, mustEnrol, factors);
    }
    const { method } = proof;
    // Signing in during a deletion's grace period keeps the account (docs/profile.md); only a
    // sign-in that really issues a session cancels it, never a half-finished one.
    const db = opts.db ?? this.d.db;
    const deletionCancelled = await this.d.deletion.cancelOnSignIn(account, ctx, db);
    const { token, session } = await this.d.sessions.create(account, proof, ctx, db);
    await this.d.audit.record(
      'sign_in.succeeded',
      ctx,
      { accountId: account.id, details: opts.factor ? { method, factor: opts.factor } : { method } },
      db,
    );
    this.d.metrics.signIns.inc({ method, outcome: 'success' });
    const done: SignedIn = { status: 'signed_in', token, session, account, returnTo: opts.returnTo };
    if (deletionCancelled) done.deletionCancelled = true;
    if (opts.keepSignedIn) done.keepSignedIn = true;
    return done;
  }

  /** The factors the account can use now, in SECOND_FACTORS order. */
  async enrolledFactors(accountId: string): Promise<SecondFactorMethod[]> {
    const all = this.d.secondFactors.all();
    const on = await Promise.all(all.map((m) => m.enrolled(this.d, accountId)));
    return all.filter((_, i) => on[i]);
  }

  /** The half-finished sign-in behind a pending cookie token, or undefined (expired, used, unknown). */
  async pendingOf(token: string | undefined): Promise<PendingSignIn | undefined> {
    return (await this.live(token))?.pending;
  }

  /**
   * The live half-finished sign-in behind a token, with its account, in one read prepared once
   * on the engine (Store.preparedRead): the second-factor step's hot read, as the session lookup
   * is every signed-in request's.
   */
  private async live(token: string | undefined): Promise<{ pending: PendingSignIn; account: Account } | undefined> {
    if (!token || token.length > 128) return undefined;
    this.lookup ??= this.d.store.preparedRead(pendingLookupQuery(this.d.db));
    const row = (await this.lookup([sha256(token)]))[0];
    if (!row) return undefined;
    const found = pendingLookupRow(row);
    const { used_at, expires_at } = found.pending;
    return used_at === null && Number(expires_at) > this.d.clock.now() ? found : undefined;
  }

  /** What the step offers for a half-finished sign-in (fresh `begin` data, e.g. a new passkey challenge). */
  async offers(pending: PendingSignIn, ctx: RequestContext): Promise<{ enrol: boolean; factors: FactorOffer[] }> {
    if (pending.enrol === 1) return { enrol: true, factors: this.enrolOffer() };
    return { enrol: false, factors: await this.describe(await this.enrolledFactors(pending.account_id), pending, ctx) };
  }

  /** Starts the enrolment a half-finished sign-in needs (MFA-08): secret, URI and QR to show. */
  async beginEnrolment(token: string | undefined, ctx: RequestContext): Promise<Record<string, unknown>> {
    const pending = await this.requirePending(token);
    if (pending.enrol !== 1 || !this.enrolment) throw new AppError('conflict', t('signin.error.no_enrolment'));
    await this.d.guard.limit('second_factor', ctx);
    return this.enrolment.begin(pending.account_id, ctx);
  }

  /**
   * Finishes a half-finished sign-in with a second factor's answer: counted per IP and per
   * account on every process before it is checked (MFA-03), then the session is issued through
   * `complete` with the factor added to the proof.
   */
  async finish(token: string | undefined, answer: SecondFactorAnswer, ctx: RequestContext): Promise<SignedIn> {
    await this.d.guard.limit('second_factor', ctx);
    const found = await this.live(token);
    if (!found) throw expired();
    const { pending, account } = found;
    const fields = (['code', 'recoveryCode', 'webauthn'] as const).filter((f) => answer[f] !== undefined);
    if (fields.length !== 1) throw new AppError('validation_failed', t('signin.error.one_answer'));
    const field = fields[0] as AnswerField;
    const accountId = pending.account_id;

    // Enrolling at sign-in (MFA-08): only the enrolling factor's code finishes it. Otherwise only
    // a registered factor answers (an email code never is one, OTP-06); its verify refuses an
    // account that does not have it.
    let factor: SecondFactorMethod | undefined;
    let check: (d: SecondFactorDeps) => Promise<Record<string, unknown> | undefined>;
    if (pending.enrol === 1) {
      const enrolment = this.enrolment;
      factor = enrolment && this.d.secondFactors.get(enrolment.factor);
      check = async () => {
        if (!enrolment || !factor || field !== factor.answer) throw new AppError('invalid_code');
        return enrolment.confirm(accountId, answer[field], ctx);
      };
    } else {
      factor = this.d.secondFactors.all().find((m) => m.answer === field);
      check = async (d) => {
        if (!factor) throw new AppError('invalid_code');
        return (await factor.verify(d, accountId, answer[field], pending.id, ctx))?.notice;
      };
    }
    const proof = (f: SecondFactorMethod): SignInProof => ({
      method: pending.method,
      amr: withSecondFactor(parseAmr(pending.amr), f.amr),
    });
    const opts = (f: SecondFactorMethod, db: Kysely<Database>): CompleteOptions => ({
      returnTo: pending.return_to ?? undefined,
      factor: f.id,
      keepSignedIn: pending.keep_signed_in === 1,
      db,
    });

    // One attempt: counted first, then checked; when right, the half-finished sign-in is used up
    // and the session issued, in one transaction. A wrong answer or the limit still keeps the count.
    const attempt = async (db: Kysely<Database>, d: SecondFactorDeps, f: SecondFactorMethod | undefined) => {
      const limited = await this.countAttempt(accountId, ctx, db);
      if (limited) return { limited };
      let notice: Record<string, unknown> | undefined;
      try {
        notice = await check(d);
      } catch (err) {
        if (err instanceof AppError && err.code === 'invalid_code') {
          await this.d.audit.record('second_factor.failed', ctx, { accountId, details: { field } }, db);
          return { failed: err };
        }
        throw err;
      }
      const done = (trx: Kysely<Database>) =>
        this.issue(
          trx,
          pending,
          account,
          proof(f as SecondFactorMethod),
          opts(f as SecondFactorMethod, trx),
          ctx,
          notice,
        );
      return db.isTransaction ? done(db) : this.d.db.transaction().execute(done);
    };
    // A factor whose check only reads and writes through `d.db` (TOTP) runs it inside: the whole
    // step is one transaction, one commit instead of one per statement (see bench/RESULTS.md,
    // `mfa`). The attempt's row stays locked until the end, so a parallel attempt on any process
    // waits and then sees it counted (MFA-03). Other factors (a passkey may flag itself, a
    // recovery code sends a notice, each in a transaction of its own) check outside it.
    const outcome: StepOutcome =
      pending.enrol !== 1 && factor?.inTransaction
        ? await this.d.db.transaction().execute((trx) => attempt(trx, withDb(this.d, trx), factor))
        : await attempt(this.d.db, this.d, factor);
    if ('limited' in outcome) throw tooMany(outcome.limited);
    if ('failed' in outcome) {
      this.d.metrics.signIns.inc({ method: 'second_factor', outcome: 'failure' });
      throw outcome.failed;
    }
    if (!('done' in outcome)) throw expired();
    const out = outcome.done;
    if (answer.remember === true) out.deviceToken = await this.rememberBrowser(accountId);
    return out;
  }

  /**
   * The end of the second-factor step, in its transaction: the half-finished sign-in used up
   * (single use: of two right answers racing, one finishes; the row is gone for the other), the
   * attempt run cleared, and the session issued through `complete`. The account is the one read
   * with the half-finished sign-in at the start of the step; `complete` still refuses it unless
   * active, as a password sign-in does with the account it read.
   */
  private async issue(
    trx: Kysely<Database>,
    pending: PendingSignIn,
    account: Account,
    proof: SignInProof,
    opts: CompleteOptions,
    ctx: RequestContext,
    notice: Record<string, unknown> | undefined,
  ): Promise<StepOutcome> {
    if (!(await consumePendingSignIn(trx, pending.id, this.d.clock.now()))) return { expired: true };
    await clearFailures(trx, attemptKey(account.id));
    const done = await this.complete(account, proof, ctx, opts);
    if (done.status !== 'signed_in') return { expired: true };
    return { done: { ...done, notice } };
  }

  private async pending(
    account: Account,
    proof: SignInProof,
    ctx: RequestContext,
    opts: CompleteOptions,
    enrol: boolean,
    factors: SecondFactorMethod[],
  ): Promise<SecondFactorRequired> {
    const now = this.d.clock.now();
    const token = newToken(this.d.random);
    const row: PendingSignIn = {
      id: newId(this.d.random),
      token_hash: sha256(token),
      account_id: account.id,
      method: proof.method,
      amr: serializeAmr(proof.amr),
      created_at: now,
      expires_at: now + this.d.config.mfa.pendingTtl,
      return_to: opts.returnTo ?? null,
      enrol: enrol ? 1 : 0,
      keep_signed_in: opts.keepSignedIn ? 1 : 0,
      used_at: null,
      // Audited when it ends (see sweep), from where it began.
      ip: cleanText(ctx.ip, 64),
      user_agent: cleanText(ctx.userAgent),
      correlation_id: cleanText(ctx.correlationId, 64),
    };
    await insertPendingSignIn(this.d.db, row);
    return {
      status: 'second_factor_required',
      pendingToken: token,
      pendingId: row.id,
      expiresAt: row.expires_at,
      account,
      enrol,
      factors: enrol ? this.enrolOffer() : await this.describe(factors, row, ctx),
    };
  }

  private enrolOffer(): FactorOffer[] {
    const f = this.enrolment && this.d.secondFactors.get(this.enrolment.factor);
    return f ? [{ type: f.id, label: f.label, enrol: true }] : [];
  }

  private async describe(factors: SecondFactorMethod[], pending: PendingSignIn, ctx: RequestContext) {
    return Promise.all(
      factors.map(async (m) => ({
        type: m.id,
        label: m.label,
        ...((await m.begin?.(this.d, pending.account_id, pending.id, ctx)) ?? {}),
      })),
    );
  }

  /** Which request field answers the factor `id` (code, recoveryCode, webauthn). */
  answerOf(id: string): AnswerField | undefined {
    return this.d.secondFactors.get(id)?.answer;
  }

  /** The HTML a factor adds to the step page for its offer (e.g. a passkey button), already escaped. */
  fragmentOf(offer: FactorOffer): string {
    return this.d.secondFactors.get(offer.type)?.pageFragment?.(offer) ?? '';
  }

  /** The live half-finished sign-in, or the 401 every step route gives without one. */
  async requirePending(token: string | undefined): Promise<PendingSignIn> {
    const pending = await this.pendingOf(token);
    if (!pending) throw expired();
    return pending;
  }

  /**
   * Counts the attempt against the account before it is checked, atomically on every process
   * (MFA-03); over the limit, the window to wait (ms) instead.
   */
  private async countAttempt(
    accountId: string,
    ctx: RequestContext,
    db: Kysely<Database> = this.d.db,
  ): Promise<number | undefined> {
    const { points, windowMs } = this.d.config.mfa.attempts;
    const now = this.d.clock.now();
    const run = await reserveFailure(db, attemptKey(accountId), now, now - windowMs);
    if (run.failures <= points) return undefined;
    if (run.failures === points + 1)
      await this.d.audit.record(
        'rate_limited',
        ctx,
        { accountId, details: { action: 'second_factor', scope: 'account' } },
        db,
      );
    return windowMs;
  }

  /**
   * Housekeeping, every SWEEP_EVERY_MS while started: audits each half-finished sign-in that
   * expired unused (`sign_in.second_factor_abandoned`: the password was right and no second
   * factor followed, which may mean someone else knows it), then forgets ended ones and expired
   * remembered browsers. A half-finished sign-in is audited once, when it ends, so the sign-in's
   * hot path writes no record of its start. Each abandoned one is claimed by one process only.
   */
  async sweep(): Promise<number> {
    const now = this.d.clock.now();
    const abandoned = await this.d.db.transaction().execute(async (trx) => {
      const rows = await endAbandonedPendingSignIns(trx, now);
      for (const r of rows)
        await this.d.audit.record(
          'sign_in.second_factor_abandoned',
          { ip: r.ip ?? '', userAgent: r.user_agent ?? '', correlationId: r.correlation_id ?? '' },
          { accountId: r.account_id, details: { method: r.method, started: Number(r.created_at) } },
          trx,
        );
      return rows.length;
    });
    await deleteOldPendingSignIns(this.d.db, now - 3_600_000);
    await deleteExpiredTrustedDevices(this.d.db, now);
    return abandoned;
  }

  /** Starts the housekeeping timer (the composition root stops it on close). */
  start(): void {
    this.sweeper ??= setInterval(() => {
      this.sweep().catch((err) => this.d.log.warn({ err }, 'sweeping half-finished sign-ins failed'));
    }, SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private async trustedBrowser(accountId: string, ctx: RequestContext): Promise<boolean> {
    if (!ctx.deviceToken || ctx.deviceToken.length > 128) return false;
    return isTrustedDevice(this.d.db, accountId, sha256(ctx.deviceToken), this.d.clock.now());
  }

  private async rememberBrowser(accountId: string): Promise<string> {
    const now = this.d.clock.now();
    const token = newToken(this.d.random);
    await insertTrustedDevice(this.d.db, {
      id: newId(this.d.random),
      account_id: accountId,
      token_hash: sha256(token),
      created_at: now,
      expires_at: now + this.d.config.mfa.rememberTtl,
    });
    return token;
  }
}

/** How the second-factor step ended: a session, a wrong answer, the attempt limit, or no longer live. */
type StepOutcome = { done: SignedIn } | { failed: AppError } | { limited: number } | { expired: true };

/** The deps with `db` swapped for a transaction, everything else as it is. */
function withDb<T extends { db: Kysely<Database> }>(d: T, db: Kysely<Database>): T {
  return Object.assign(Object.create(d) as T, { db });
}

/** The per-account second-factor attempt run (MFA-03) in the durable sign_in_failures table. */
const attemptKey = (accountId: string) => `mfa:${accountId}`;

/** How often the half-finished sign-ins that expired unused are audited and old rows forgotten. */
const SWEEP_EVERY_MS = 60_000;

const expired = () => new AppError('unauthorized', t('signin.error.expired'));
