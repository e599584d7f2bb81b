import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { captchaRequiredNext, checkPassword, type PasswordSignInDeps } from '../../methods/password/signin.ts';
import { isMultiFactor, parseAmr, type SignInProof, serializeAmr, withSecondFactor } from '../../security/amr.ts';
import { sha256 } from '../../security/hashing.ts';
import { tooMany } from '../../security/limits.ts';
import { newId, newToken } from '../../security/random.ts';
import { type Account, findAccount } from '../../store/accounts.ts';
import { orgRequiresSecondFactor } from '../../store/organizations.ts';
import {
  consumePendingSignIn,
  deleteOldPendingSignIns,
  findLivePendingSignIn,
  insertPendingSignIn,
  type PendingSignIn,
} from '../../store/pending-sign-ins.ts';
import { clearFailures, reserveFailure } from '../../store/sign-in-failures.ts';
import { deleteExpiredTrustedDevices, insertTrustedDevice, isTrustedDevice } from '../../store/trusted-devices.ts';
import type { AccountDeletion } from '../profile/deletion.ts';
import type { Session, SessionService } from '../sessions/service.ts';
import type { AnswerField, FactorOffer, SecondFactorMethod, SecondFactors } from './second-factor.ts';

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
  private lastSweep = 0;

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
      const factors = await this.enrolledFactors(account.id);
      const hasFactor = factors.some((f) => !f.backup);
      const mustEnrol = !hasFactor && (await orgRequiresSecondFactor(this.d, account.org_id));
      if (mustEnrol || (hasFactor && (opts.reauth || !(await this.trustedBrowser(account.id, ctx)))))
        return this.pending(account, proof, ctx, opts.returnTo, mustEnrol, factors);
    }
    const { method } = proof;
    // Signing in during a deletion's grace period keeps the account (docs/profile.md); only a
    // sign-in that really issues a session cancels it, never a half-finished one.
    const deletionCancelled = await this.d.deletion.cancelOnSignIn(account, ctx);
    const { token, session } = await this.d.sessions.create(account, proof, ctx);
    await this.d.audit.record('sign_in.succeeded', ctx, {
      accountId: account.id,
      details: opts.factor ? { method, factor: opts.factor } : { method },
    });
    this.d.metrics.signIns.inc({ method, outcome: 'success' });
    const done: SignedIn = { status: 'signed_in', token, session, account, returnTo: opts.returnTo };
    if (deletionCancelled) done.deletionCancelled = true;
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
    if (!token || token.length > 128) return undefined;
    return findLivePendingSignIn(this.d.db, sha256(token), this.d.clock.now());
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
    const pending = await this.requirePending(token);
    const fields = (['code', 'recoveryCode', 'webauthn'] as const).filter((f) => answer[f] !== undefined);
    if (fields.length !== 1) throw new AppError('validation_failed', t('signin.error.one_answer'));
    const field = fields[0] as AnswerField;
    const accountId = pending.account_id;
    await this.countAttempt(accountId, ctx);

    let factorId: string;
    let factorAmr: SecondFactorMethod['amr'];
    let notice: Record<string, unknown> | undefined;
    try {
      if (pending.enrol === 1) {
        // Enrolling at sign-in (MFA-08): only the enrolling factor's code finishes it.
        const enrolment = this.enrolment;
        const factor = enrolment && this.d.secondFactors.get(enrolment.factor);
        if (!enrolment || !factor || field !== factor.answer) throw new AppError('invalid_code');
        notice = await enrolment.confirm(accountId, answer[field], ctx);
        factorId = factor.id;
        factorAmr = factor.amr;
      } else {
        // Only a registered factor answers (an email code never is one, OTP-06); its verify
        // refuses an account that does not have it.
        const factor = this.d.secondFactors.all().find((m) => m.answer === field);
        if (!factor) throw new AppError('invalid_code');
        notice = (await factor.verify(this.d, accountId, answer[field], pending.id, ctx))?.notice;
        factorId = factor.id;
        factorAmr = factor.amr;
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'invalid_code') {
        await this.d.audit.record('second_factor.failed', ctx, { accountId, details: { field } });
        this.d.metrics.signIns.inc({ method: 'second_factor', outcome: 'failure' });
      }
      throw err;
    }
    await clearFailures(this.d.db, attemptKey(accountId));
    // Single use: of two right answers racing, one finishes; the pending row is gone for the other.
    if (!(await consumePendingSignIn(this.d.db, pending.id, this.d.clock.now()))) throw expired();
    const account = await findAccount(this.d.db, accountId);
    if (!account) throw expired();
    const done = await this.complete(
      account,
      { method: pending.method, amr: withSecondFactor(parseAmr(pending.amr), factorAmr) },
      ctx,
      { returnTo: pending.return_to ?? undefined, factor: factorId },
    );
    if (done.status !== 'signed_in') throw expired();
    const out: SignedIn = { ...done, notice };
    if (answer.remember === true) out.deviceToken = await this.rememberBrowser(accountId);
    return out;
  }

  private async pending(
    account: Account,
    proof: SignInProof,
    ctx: RequestContext,
    returnTo: string | undefined,
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
      return_to: returnTo ?? null,
      enrol: enrol ? 1 : 0,
      used_at: null,
    };
    await insertPendingSignIn(this.d.db, row);
    if (now - this.lastSweep > 60_000) {
      // Ended half-finished sign-ins and remembered browsers are kept no longer than needed.
      this.lastSweep = now;
      await deleteOldPendingSignIns(this.d.db, now - 3_600_000);
      await deleteExpiredTrustedDevices(this.d.db, now);
    }
    await this.d.audit.record('sign_in.second_factor_pending', ctx, {
      accountId: account.id,
      details: { method: proof.method, enrol },
    });
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

  /** Counts the attempt against the account before it is checked, atomically on every process (MFA-03). */
  private async countAttempt(accountId: string, ctx: RequestContext): Promise<void> {
    const { points, windowMs } = this.d.config.mfa.attempts;
    const now = this.d.clock.now();
    const run = await reserveFailure(this.d.db, attemptKey(accountId), now, now - windowMs);
    if (run.failures > points) {
      if (run.failures === points + 1)
        await this.d.audit.record('rate_limited', ctx, {
          accountId,
          details: { action: 'second_factor', scope: 'account' },
        });
      throw tooMany(windowMs);
    }
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

/** The per-account second-factor attempt run (MFA-03) in the durable sign_in_failures table. */
const attemptKey = (accountId: string) => `mfa:${accountId}`;

const expired = () => new AppError('unauthorized', t('signin.error.expired'));
