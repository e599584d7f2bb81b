import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { refuseLastPasskey } from '../../methods/passkey/service.ts';
import { issueRecoveryCodes, recoveryCodesLeft } from '../../methods/recovery-code/codes.ts';
import { qrSvg } from '../../methods/totp/qr.ts';
import { openSecret } from '../../methods/totp/secret-box.ts';
import { checkTotp, startTotp, totpUri } from '../../methods/totp/totp.ts';
import { isMultiFactor, parseAmr } from '../../security/amr.ts';
import { type Account, findAccount } from '../../store/accounts.ts';
import { voidMfaRecoveryCodes } from '../../store/mfa-recovery-codes.ts';
import { orgRequiresSecondFactor } from '../../store/organizations.ts';
import { countPasskeys, PASSKEY } from '../../store/passkeys.ts';
import { endPendingSignIns } from '../../store/pending-sign-ins.ts';
import {
  countConfirmedFactors,
  deleteSecondFactor,
  findSecondFactor,
  listSecondFactors,
} from '../../store/second-factors.ts';
import { forgetTrustedDevices } from '../../store/trusted-devices.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { SessionService } from '../sessions/service.ts';
import type { SignInEnrolment } from '../signin/service.ts';
import { sendFactorNotice } from './notices.ts';

/** What this module uses of the container the composition root builds. */
export type FactorDeps = Kernel & { sessions: SessionService };

export interface FactorView {
  id: string;
  /** totp | passkey */
  type: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface TotpSetup {
  factorId: string;
  secret: string;
  uri: string;
  qrSvg: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/**
 * Managing one's second factors (MFA-01, MFA-05, MFA-06): adding an authenticator app, removing
 * a factor, new recovery codes. Each change needs a recent sign-in, made with a second factor
 * when the account has one; each is audited and mailed (LOG-03) and forgets remembered browsers.
 */
export class FactorService {
  constructor(private readonly d: FactorDeps) {}

  async list(accountId: string): Promise<{ factors: FactorView[]; recoveryCodesLeft: number }> {
    const rows = (await listSecondFactors(this.d.db, accountId)).filter((f) => f.confirmed_at !== null);
    return {
      factors: rows.map((f) => ({
        id: f.id,
        type: f.kind,
        name: f.name,
        createdAt: iso(f.created_at) as string,
        lastUsedAt: iso(f.last_used_at),
      })),
      recoveryCodesLeft: await recoveryCodesLeft(this.d, accountId),
    };
  }

  /** MFA-06 / SES-07: a recent sign-in, with a second factor when the account has one. */
  async requireStepUp(auth: Authenticated): Promise<void> {
    this.d.sessions.requireRecentAuth(auth.session);
    if ((await countConfirmedFactors(this.d.db, auth.account.id)) > 0 && !isMultiFactor(parseAmr(auth.session.amr)))
      throw new AppError('reauthentication_required', t('factors.error.step_up'));
  }

  /** Starts adding an authenticator app: the secret, otpauth URI and QR to show once. */
  async startTotp(auth: Authenticated, resume = false): Promise<TotpSetup> {
    await this.requireStepUp(auth);
    return this.setup(auth.account, resume);
  }

  /** Confirms the authenticator app with a code from it (MFA-01); the first factor also gets recovery codes. */
  async confirmTotp(
    auth: Authenticated,
    code: unknown,
    ctx: RequestContext,
  ): Promise<{ factor: FactorView; recoveryCodes?: string[] }> {
    await this.requireStepUp(auth);
    await this.d.guard.limit('second_factor', ctx);
    return this.confirm(auth.account, code, ctx);
  }

  async remove(auth: Authenticated, id: string, ctx: RequestContext): Promise<void> {
    await this.requireStepUp(auth);
    const a = auth.account;
    const f = await findSecondFactor(this.d.db, a.id, id);
    if (!f) throw new AppError('not_found', t('factors.error.no_such'));
    const confirmed = f.confirmed_at !== null;
    const count = await countConfirmedFactors(this.d.db, a.id);
    if (confirmed && count === 1 && (await orgRequiresSecondFactor(this.d, a.org_id)))
      throw new AppError('conflict', t('factors.error.org_requires'));
    await this.d.db.transaction().execute(async (trx) => {
      if (f.kind === PASSKEY) {
        // The same last-way-in check as the passkey module's own remove, on the locked account row.
        let q = trx.selectFrom('accounts').select(['id', 'password_hash']).where('id', '=', a.id);
        if (this.d.engine === 'postgres') q = q.forUpdate();
        const locked = await q.executeTakeFirst();
        if (!locked) throw new AppError('not_found', t('factors.error.no_such'));
        await refuseLastPasskey(trx, locked, await countPasskeys(trx, a.id));
      }
      if (!(await deleteSecondFactor(trx, a.id, id))) throw new AppError('not_found', t('factors.error.no_such'));
      if (!confirmed) return;
      const now = this.d.clock.now();
      // Without a factor left, the backup codes would be a factor of their own: void them.
      if (count === 1) await voidMfaRecoveryCodes(trx, a.id, now);
      await forgetTrustedDevices(trx, a.id);
      await endPendingSignIns(trx, a.id, now);
      await this.d.audit.record(
        'second_factor.removed',
        ctx,
        { accountId: a.id, details: { type: f.kind, left: count - 1 } },
        trx,
      );
      await sendFactorNotice(this.d, trx, a, { kind: 'factor_removed', factor: f.name }, ctx);
    });
  }

  /** A new set of recovery codes, voiding the old (MFA-05); only with a factor to back up. */
  async regenerateCodes(auth: Authenticated, ctx: RequestContext): Promise<string[]> {
    await this.requireStepUp(auth);
    const a = auth.account;
    if ((await countConfirmedFactors(this.d.db, a.id)) === 0)
      throw new AppError('conflict', t('factors.error.turn_on_first'));
    return this.d.db.transaction().execute(async (trx) => {
      const codes = await issueRecoveryCodes(this.d, trx, a.id);
      await this.d.audit.record('recovery_codes.regenerated', ctx, { accountId: a.id }, trx);
      await sendFactorNotice(this.d, trx, a, { kind: 'recovery_codes_regenerated' }, ctx);
      return codes;
    });
  }

  /**
   * Enrolment during a sign-in the organization requires a factor for (MFA-08): the sign-in step
   * calls these with the half-finished sign-in's account; no session exists yet.
   */
  signInEnrolment(): SignInEnrolment {
    return {
      factor: 'totp',
      begin: async (accountId) => {
        const account = await findAccount(this.d.db, accountId);
        if (!account) throw new AppError('unauthorized');
        return { type: 'totp', ...(await this.setup(account, true)) };
      },
      confirm: async (accountId, answer, ctx) => {
        const account = await findAccount(this.d.db, accountId);
        if (!account) throw new AppError('unauthorized');
        const { recoveryCodes } = await this.confirm(account, answer, ctx);
        return recoveryCodes ? { recoveryCodes } : {};
      },
    };
  }

  /**
   * The secret to show. `resume`: an unconfirmed one from the last few minutes is shown again
   * rather than replaced, so reloading the sign-in enrolment page keeps the app already set up.
   */
  private async setup(account: Account, resume = false): Promise<TotpSetup> {
    if ((await listSecondFactors(this.d.db, account.id)).some((f) => f.kind === 'totp' && f.confirmed_at !== null))
      throw new AppError('conflict', t('factors.error.totp_exists'));
    if (resume) {
      const since = this.d.clock.now() - this.d.config.mfa.pendingTtl;
      const open = (await listSecondFactors(this.d.db, account.id)).find(
        (f) => f.kind === 'totp' && f.confirmed_at === null && f.created_at > since && f.secret_enc,
      );
      const secret = open?.secret_enc ? openSecret(this.d.secret, open.id, open.secret_enc) : undefined;
      if (open && secret) {
        const uri = totpUri(secret, account.username, this.d.config.productName);
        return { factorId: open.id, secret, uri, qrSvg: await qrSvg(uri) };
      }
    }
    const e = await startTotp(this.d, account);
    return { ...e, qrSvg: await qrSvg(e.uri) };
  }

  private async confirm(
    account: Account,
    code: unknown,
    ctx: RequestContext,
  ): Promise<{ factor: FactorView; recoveryCodes?: string[] }> {
    const before = await countConfirmedFactors(this.d.db, account.id);
    const f = await checkTotp(this.d, account.id, code, { confirm: true });
    const recoveryCodes = await this.d.db.transaction().execute(async (trx) => {
      await forgetTrustedDevices(trx, account.id);
      await this.d.audit.record('second_factor.added', ctx, { accountId: account.id, details: { type: 'totp' } }, trx);
      await sendFactorNotice(this.d, trx, account, { kind: 'factor_added', factor: f.name }, ctx);
      // The first factor comes with recovery codes, so losing it does not lock the user out.
      return before === 0 ? issueRecoveryCodes(this.d, trx, account.id) : undefined;
    });
    return {
      factor: {
        id: f.id,
        type: 'totp',
        name: f.name,
        createdAt: iso(f.created_at) as string,
        lastUsedAt: iso(this.d.clock.now()),
      },
      recoveryCodes,
    };
  }
}
