import type { RequestContext } from '../../context.ts';
import type { OutboxRow } from '../../delivery/worker.ts';
import { AppError } from '../../errors.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { safeEqual, sha256 } from '../../security/hashing.ts';
// Rate limits count an identifier under the key its account is looked up by (one for every spelling).
import { identifierKey } from '../../security/identifiers.ts';
import { normalizePassword } from '../../security/password-policy.ts';
import { newId } from '../../security/random.ts';
import { type Account, findAccount, findAccountByIdentifier } from '../../store/accounts.ts';
import {
  consumeCode,
  findCodeByTokenHash,
  flowHasCode,
  returnCodeAttempt,
  supersedeCodes,
  takeCodeAttempts,
} from '../../store/recovery-codes.ts';
import type { Authenticated } from '../../web/auth.ts';
import { applyPasswordChange, type PasswordChangedDeps } from '../account/password-changed.ts';
import {
  MAX_CODE_ATTEMPTS,
  type RecoveryMethod,
  type RecoveryMethodDeps,
  type ResetCompleteInput,
  recoveryCodeHash,
} from './method.ts';
import { methodsFor, type RecoverySelectorDeps } from './selector.ts';

/** What this module uses of the container the composition root builds. */
export type RecoveryDeps = Pick<
  Kernel,
  'config' | 'db' | 'clock' | 'random' | 'hasher' | 'policy' | 'outbox' | 'worker' | 'audit' | 'guard' | 'captcha'
> &
  RecoveryMethodDeps &
  PasswordChangedDeps &
  RecoverySelectorDeps;

/** The answer to every reset request by email link, whatever the identifier (ENUM-02). */
export const resetRequested = () => t('recovery.requested');
export const resetDone = () => t('recovery.done');
export const resetSentToSelf = () => t('recovery.settings_sent');

const REQUEST_JOB = 'recovery.request';

export interface ResetRequestInput {
  identifier: string;
  captcha?: string;
  /** the recovery method the user picked (e.g. 'sms_otp'); none means the default (email link) */
  method?: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * Forgot password (REC-01..REC-09, ENUM-02): request → token/code by the account's methods →
 * completion with the link token or identifier + code. Completion never signs in (REC-07): it
 * only sets the password through `applyPasswordChange`, so no path here can skip a second factor.
 */
export class RecoveryService {
  constructor(private readonly d: RecoveryDeps) {
    d.worker.registerJob(REQUEST_JOB, (payload, row) => this.runRequestJob(payload, row));
    // Jobs the methods queue (e.g. "Resend code"), each kind once.
    for (const [kind, run] of d.recoveryMethods.jobs())
      d.worker.registerJob(kind, (payload, row) => run(d, payload, row));
  }

  /**
   * ENUM-02: the answer must not depend on the account, so the response does the same work for
   * every identifier (limits, CAPTCHA, one job row) and everything account-specific (lookup,
   * token write, mail) happens in the job after the response.
   */
  async request(input: ResetRequestInput, ctx: RequestContext): Promise<{ message: string; flow?: string }> {
    const d = this.d;
    const identifier = str(input.identifier).trim();
    if (!identifier || identifier.length > 320)
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'identifier', code: 'required', message: t('recovery.enter_identifier') }],
      });
    await d.guard.limit('reset_request', ctx, identifierKey(identifier));
    if (!(await d.captcha.verify(input.captcha, ctx))) {
      await d.audit.record('captcha.failed', ctx, { details: { flow: 'password_reset' } });
      throw new AppError(input.captcha ? 'captcha_invalid' : 'captcha_required');
    }
    // A chosen flow-bound method gets the flow id back (random, the same for every identifier),
    // which its code page sends with the code (OTP-03).
    const method = input.method ? d.recoveryMethods.get(str(input.method)) : undefined;
    if (input.method && !method)
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'method', code: 'invalid', message: t('recovery.choose_method') }],
      });
    await method?.beforeRequest?.(d, ctx, identifierKey(identifier));
    const flowId = newId(d.random);
    await d.outbox.job(d.db, {
      kind: REQUEST_JOB,
      payload: {
        identifier,
        flowId,
        method: method?.id ?? null,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        correlationId: ctx.correlationId,
        // the mail goes out in this language unless the account chose one (the same for every identifier)
        locale: currentLocale(),
      },
    });
    const message = method?.requestedMessage ?? resetRequested();
    if (method?.codeHash) return { message, flow: flowId };
    return { message };
  }

  /** The signed-in "Send Reset Email": the same mail, to the address on file. */
  async requestForSelf(auth: Authenticated, ctx: RequestContext): Promise<{ message: string }> {
    await this.d.guard.limit('reset_request', ctx, `account:${auth.account.id}`);
    await this.issue(auth.account, ctx, newId(this.d.random), 'settings', undefined, currentLocale());
    return { message: resetSentToSelf() };
  }

  /**
   * ADM-01/02: staff start a reset for an account. The account gets the same link and code by the
   * same methods and limits as a reset it asked for (REC-01..REC-09), at its own addresses; staff
   * never see the secrets and never set a password. Answers the flow id, so the caller can show
   * when the secrets expire.
   */
  async requestByStaff(account: Account, ctx: RequestContext): Promise<{ flowId: string }> {
    if (account.status === 'disabled') throw new AppError('conflict', t('recovery.enable_first'));
    const flowId = newId(this.d.random);
    // Staff ask for it: the mail speaks the account's language, else the install's default.
    await this.issue(account, ctx, flowId, 'staff', undefined, null);
    return { flowId };
  }

  private async runRequestJob(payload: Record<string, unknown>, row: OutboxRow): Promise<void> {
    const d = this.d;
    const ctx: RequestContext = {
      ip: str(payload.ip),
      userAgent: str(payload.userAgent),
      correlationId: str(payload.correlationId),
    };
    const account = await findAccountByIdentifier(d.db, str(payload.identifier));
    if (!account || account.status === 'disabled') {
      await d.audit.record('password.reset_requested', ctx, {
        accountId: account?.id ?? null,
        details: { delivered: false, reason: account ? 'disabled' : 'unknown_identifier' },
      });
      return;
    }
    // A job re-run after a crash finds its flow and sends nothing twice.
    const flowId = str(payload.flowId) || row.id;
    if (await flowHasCode(d.db, flowId)) return;
    await this.issue(account, ctx, flowId, 'request', str(payload.method) || undefined, str(payload.locale) || null);
  }

  /**
   * Ends every earlier secret of the account and issues new ones by each chosen method (REC-02),
   * their mails and texts in the account's language, else `fallbackLocale` (the request's).
   */
  private async issue(
    account: Account,
    ctx: RequestContext,
    flowId: string,
    origin: 'request' | 'settings' | 'staff',
    requested: string | undefined,
    fallbackLocale: string | null,
  ): Promise<void> {
    const d = this.d;
    const methods = await methodsFor(d, account, requested);
    if (methods.length === 0) {
      await d.audit.record('password.reset_requested', ctx, {
        accountId: account.id,
        details: { delivered: false, reason: 'no_method', origin },
      });
      return;
    }
    // REC-06: past the mail cap the request is answered the same and nothing is sent.
    if (!(await d.guard.allow('reset_mail', account.id))) {
      await d.audit.record('password.reset_requested', ctx, {
        accountId: account.id,
        details: { delivered: false, reason: 'mail_cap', origin },
      });
      return;
    }
    const now = d.clock.now();
    await withLocale(account.locale ?? fallbackLocale, () => this.issueAll(account, ctx, methods, flowId, origin, now));
  }

  private async issueAll(
    account: Account,
    ctx: RequestContext,
    methods: RecoveryMethod[],
    flowId: string,
    origin: string,
    now: number,
  ): Promise<void> {
    const d = this.d;
    await d.db.transaction().execute(async (trx) => {
      await supersedeCodes(trx, account.id, d.recoveryMethods.ids(), now);
      for (const m of methods) await m.issue(d, trx, account, flowId, ctx);
      await d.audit.record(
        'password.reset_requested',
        ctx,
        { accountId: account.id, details: { delivered: true, methods: methods.map((m) => m.id).join(','), origin } },
        trx,
      );
    });
  }

  /**
   * The account a link token was issued to, live or not, for the page's organization context.
   * Read-only (REC-04).
   */
  async tokenOwner(token: string): Promise<Account | undefined> {
    if (!token || token.length > 128) return undefined;
    const row = await findCodeByTokenHash(this.d.db, sha256(token));
    return row ? findAccount(this.d.db, row.account_id) : undefined;
  }

  /** Whether a link token would still work. Read-only: a GET of the link uses up nothing (REC-04). */
  async tokenUsable(token: string): Promise<boolean> {
    if (!token || token.length > 128) return false;
    const row = await findCodeByTokenHash(this.d.db, sha256(token));
    if (!row || row.used_at !== null || row.expires_at <= this.d.clock.now()) return false;
    const account = await findAccount(this.d.db, row.account_id);
    return Boolean(account && account.status !== 'disabled');
  }

  /**
   * Sets a new password with the link token or identifier + code. Every failure of the secret
   * (unknown identifier, wrong, expired, used, superseded, dead after 5 tries) is the same
   * `invalid_token` / `invalid_code`. The secret is used up only by a successful change, in the
   * same transaction, by a conditional update that exactly one concurrent caller can win.
   */
  async complete(input: ResetCompleteInput, ctx: RequestContext): Promise<{ message: string }> {
    const d = this.d;
    const password = str(input.password);
    const byToken = Boolean(input.token);
    const fail = byToken ? 'invalid_token' : 'invalid_code';
    if (!byToken && !(input.identifier && input.code))
      throw new AppError('validation_failed', t('recovery.token_or_code'));
    if (!password)
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'password', code: 'required', message: t('recovery.enter_new_password') }],
      });
    if (input.passwordConfirm !== undefined && input.passwordConfirm !== password)
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'passwordConfirm', code: 'mismatch', message: t('recovery.passwords_differ') }],
      });

    const now = d.clock.now();
    let rowId: string;
    let account: Account | undefined;
    if (byToken) {
      const token = str(input.token);
      await d.guard.limit('reset_complete', ctx, `token:${sha256(token)}`);
      const row = token.length <= 128 ? await findCodeByTokenHash(d.db, sha256(token)) : undefined;
      if (!row || row.used_at !== null || row.expires_at <= now) throw new AppError(fail);
      account = await findAccount(d.db, row.account_id);
      rowId = row.id;
    } else {
      const identifier = str(input.identifier);
      await d.guard.limit('reset_complete', ctx, identifierKey(identifier));
      account = await findAccountByIdentifier(d.db, identifier);
      // ENUM-04: an unknown identifier does the same work as a real account with a live code
      // (the same keyed hashes, the same statements), so the time of the answer says nothing
      // about which identifiers exist. An unknown one runs them against an account id no row has.
      const accountId = account?.id ?? '';
      const code = str(input.code).slice(0, 64);
      const flow = str(input.flow);
      const expected = recoveryCodeHash(d, accountId, code);
      const methods = d.recoveryMethods.all();
      // OTP-03: a flow-bound code is only tried within the flow that issued it, so its hash is
      // the one for the flow the completion names; one per bound method, whatever is live.
      const boundHash = new Map<string, string>();
      for (const m of methods)
        if (m.codeHash) boundHash.set(m.id, m.codeHash(d, { flow_id: flow || null, account_id: accountId }, code));
      // Each try takes one of each live code's 5 attempts, atomically and in one statement, so
      // even concurrent guesses get no more than 5 comparisons against a code (REC-06). The
      // attempt and the failure's audit row commit together: as two commits a real account's
      // changed row cost a WAL flush more on PostgreSQL than an unknown identifier's (ENUM-04).
      const match = await d.db.transaction().execute(async (trx) => {
        const tried = await takeCodeAttempts(trx, {
          accountId,
          now,
          maxAttempts: MAX_CODE_ATTEMPTS,
          methods: methods.map((m) => m.id),
          boundMethods: [...boundHash.keys()],
          flow,
        });
        let hit: string | undefined;
        for (const r of tried)
          if (r.code_hash && safeEqual(boundHash.get(r.method) ?? expected, r.code_hash)) hit = r.id;
        if (!hit) {
          // Every failed completion by code is recorded, an unknown identifier's too (LOG-01).
          await d.audit.record(
            'password.reset_code_failed',
            ctx,
            {
              accountId: account?.id ?? null,
              details: { reason: account ? (tried.length ? 'wrong_code' : 'no_live_code') : 'unknown_identifier' },
            },
            trx,
          );
          return undefined;
        }
        // A right code was no wrong try: give the attempt back, so a rejected new password
        // does not wear the code out.
        await returnCodeAttempt(trx, hit);
        return hit;
      });
      if (!match) throw new AppError(fail);
      rowId = match;
    }
    if (!account || account.status === 'disabled') throw new AppError(fail);

    // PWD-04: the same policy as registration and settings; a rejected password uses nothing up.
    const reasons = d.policy.check(password, {
      username: account.username,
      email: account.email,
      productName: d.config.productName,
    });
    if (reasons.length) throw new AppError('password_rejected', undefined, { reasons });
    const hash = await d.hasher.hash(normalizePassword(password));

    const ok = await d.db.transaction().execute(async (trx) => {
      if (!(await consumeCode(trx, rowId, now, { unexpired: true }))) return false;
      const fresh = await trx.selectFrom('accounts').selectAll().where('id', '=', account.id).executeTakeFirst();
      if (!fresh || fresh.status === 'disabled') return false;
      if (fresh.status === 'pending') {
        // EXT-05: the mailbox owner has now proven control; whatever a pre-registrant set up
        // with the old password (sessions, codes: applyPasswordChange; linked accounts: here) ends.
        await trx
          .updateTable('accounts')
          .set({ status: 'active', activated_at: now, updated_at: now })
          .where('id', '=', fresh.id)
          .execute();
        await trx
          .updateTable('activations')
          .set({ used_at: now })
          .where('account_id', '=', fresh.id)
          .where('used_at', 'is', null)
          .execute();
        await trx.deleteFrom('external_identities').where('account_id', '=', fresh.id).execute();
        await d.audit.record(
          'account.activated',
          ctx,
          { accountId: fresh.id, details: { via: 'password_reset' } },
          trx,
        );
      }
      await applyPasswordChange(d, trx, fresh, hash, 'reset', ctx);
      return true;
    });
    if (!ok) throw new AppError(fail);
    return { message: resetDone() };
  }
}
