import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { RequestContext } from '../../context.ts';
import { formatTime, renderMail } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { accountAssertionOptions, verifyAssertion } from '../../methods/passkey/ceremony.ts';
import { asAssertion } from '../../methods/passkey/webauthn.ts';
import { type Amr, isMultiFactor, parseAmr, serializeAmr } from '../../security/amr.ts';
import { isoTime } from '../../security/clock.ts';
import { keyedHash, sha256 } from '../../security/hashing.ts';
import { normalizePassword } from '../../security/password-policy.ts';
import { newCode, newId, newToken, UNAMBIGUOUS } from '../../security/random.ts';
import { type Account, findAccount } from '../../store/accounts.ts';
import { listPasskeys } from '../../store/passkeys.ts';
import {
  insertQrLogin,
  liveQrLoginByCodeHash,
  moveQrLogin,
  type QrLogin,
  qrLoginById,
  qrLoginBySecretHash,
} from '../../store/qr-logins.ts';
import { openReviewItem } from '../../store/review-items.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { OrganizationService } from '../organizations/service.ts';
import type { SessionService } from '../sessions/service.ts';
import type { SignInResult, SignInService } from '../signin/service.ts';
import { describeBrowser, differentNetwork } from './describe.ts';

/**
 * Whether an account's organization requires a second factor (MFA-08). The organization setting
 * is built on branch f18; until it is wired in (src/deps.ts), no organization requires one.
 */
export type SecondFactorRequirement = (account: Account) => Promise<boolean>;

/** What this module uses of the container the composition root builds. */
export type QrLoginDeps = Pick<
  Kernel,
  'config' | 'db' | 'clock' | 'random' | 'secret' | 'audit' | 'guard' | 'hasher' | 'outbox' | 'brand'
> & {
  signIn: SignInService;
  sessions: SessionService;
  organizations: OrganizationService;
  qrSecondFactorRequired?: SecondFactorRequirement;
};

/** A QR approval's passkey challenge is good for this request, from this session, only. */
const passkeyBinding = (requestId: string, auth: Authenticated) => `qr:${requestId}:${sha256(auth.session.id)}`;

/** The typed code: 8 characters of the unambiguous alphabet (RFC 8628 §6.1), about 39 bits. */
export const CODE_LENGTH = 8;
/** RFC 8628 §3.5: each `slow_down` adds 5 seconds to the interval. */
const SLOW_DOWN_STEP_MS = 5000;
/** A poll this much earlier than the interval still counts as on time (timers and networks jitter). */
const POLL_SLACK_MS = 250;
const POLL_MEMORY_MAX = 50_000;

export interface Started {
  id: string;
  /** the binding cookie's value (QR-02) */
  binding: string;
  /** the QR link's secret, 256 bits (QR-01) */
  secret: string;
  /** the typed code, shown as XXXX-XXXX */
  code: string;
  number: number;
  url: string;
  expiresAt: number;
  /** when the page should replace it (QR-01 rotation), if not yet opened on a phone */
  rotateAt: number;
  interval: number;
}

export type PollAnswer =
  | { status: 'pending' | 'shown'; interval: number; number: number; expiresAt: number; rotate: boolean }
  | { status: 'slow_down'; interval: number }
  | { status: 'declined' | 'expired' }
  /** the sign-in's outcome: a session, or the account's second factor still to answer (BF-05) */
  | { status: 'approved'; result: SignInResult };

export interface ApprovalView {
  id: string;
  browser: string;
  os: string;
  ip: string | null;
  createdAt: string;
  expiresAt: string;
  /** QR-04: the asking browser is on another network than this phone */
  differentNetwork: boolean;
  /** QR-08: the account has a usable passkey, so the phone may confirm with it instead of a password */
  passkey: boolean;
  /** QR-07: three numbers, one of them shown on the other screen */
  choices: number[];
}

/** "ab cd ef gh" → "ABCDEFGH"; undefined when it cannot be a code. */
export function normalizeCode(raw: string): string | undefined {
  const c = raw.toUpperCase().replace(/[\s-]/g, '');
  if (c.length !== CODE_LENGTH) return undefined;
  for (const ch of c) if (!UNAMBIGUOUS.includes(ch)) return undefined;
  return c;
}

export const formatCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

/**
 * QR sign-in (QR-01..QR-09, after RFC 8628's device grant and RFC 10027's cross-device
 * threats): a new browser starts a request and shows a QR link, a typed code and a number; a
 * signed-in phone opens it, sees who asks, picks the number, confirms its password and approves;
 * the browser holding the binding cookie then gets a session of its own through
 * SignInService.complete, no stronger than the phone's (QR-06, BF-05).
 */
export class QrLoginService {
  /** RFC 8628 polling per request, per process: when it last asked and its current interval. */
  private readonly polls = new Map<string, { at: number; interval: number }>();

  constructor(private readonly d: QrLoginDeps) {}

  get enabled(): boolean {
    return this.d.config.qr.enabled;
  }

  /** QR sign-in is on for the install and for the account's organization (QR-09). */
  async enabledFor(account: Pick<Account, 'org_id'>): Promise<boolean> {
    if (!this.enabled) return false;
    const row = await this.d.db
      .selectFrom('organizations')
      .select('qr_login')
      .where('id', '=', account.org_id)
      .executeTakeFirst();
    return (row?.qr_login ?? 1) === 1;
  }

  private requireEnabled(): void {
    if (!this.enabled) throw new AppError('not_found');
  }

  private async requireEnabledFor(account: Account): Promise<void> {
    if (!(await this.enabledFor(account))) throw new AppError('forbidden', t('qr.off_for_org'));
  }

  private codeHash(code: string): string {
    return keyedHash(this.d.secret, 'qr-code', code);
  }

  /**
   * A new request for the browser whose binding cookie is `binding` (a new one when it has none).
   * `replaces`: the request the page showed until now (rotation): it ends, and the new one keeps
   * its deadline, so a page rotates its code but the whole attempt still dies at the TTL.
   */
  async start(ctx: RequestContext, binding: string | undefined, replaces?: string): Promise<Started> {
    this.requireEnabled();
    await this.d.guard.limit('qr_create', ctx);
    const now = this.d.clock.now();
    const cookie = binding && /^[A-Za-z0-9_-]{43}$/.test(binding) ? binding : newToken(this.d.random);
    const bindingHash = sha256(cookie);
    let expiresAt = now + this.d.config.qr.ttl;
    if (replaces) {
      const old = await qrLoginById(this.d.db, replaces);
      if (old && old.binding_hash === bindingHash && old.expires_at > now) {
        if (await moveQrLogin(this.d.db, old.id, ['pending'], { status: 'replaced' }, { bindingHash })) {
          expiresAt = old.expires_at;
          this.polls.delete(old.id);
        }
      }
    }
    const secret = newToken(this.d.random);
    const code = newCode(this.d.random, UNAMBIGUOUS, CODE_LENGTH);
    const row: QrLogin = {
      id: newId(this.d.random),
      binding_hash: bindingHash,
      secret_hash: sha256(secret),
      code_hash: this.codeHash(code),
      number: 10 + this.d.random.int(90),
      status: 'pending',
      created_at: now,
      expires_at: expiresAt,
      ip: ctx.ip || null,
      user_agent: ctx.userAgent ? ctx.userAgent.slice(0, 256) : null,
      shown_at: null,
      account_id: null,
      approver_session_id: null,
      approver_amr: null,
      approver_ip: null,
      approver_user_agent: null,
      decided_at: null,
      session_id: null,
      redeemed_at: null,
      report_hash: null,
      reported_at: null,
    };
    await insertQrLogin(this.d.db, row);
    await this.d.audit.record('qr.created', ctx, { details: { request: row.id, rotation: replaces !== undefined } });
    return {
      id: row.id,
      binding: cookie,
      secret,
      code,
      number: row.number,
      url: `${this.d.config.publicUrl}/qr/${secret}`,
      expiresAt,
      rotateAt: Math.min(now + this.d.config.qr.rotate, expiresAt),
      interval: this.d.config.qr.interval,
    };
  }

  /**
   * The new browser asks (RFC 8628 §3.4). Only the browser with the binding cookie learns
   * anything (QR-02): any other gets the same 404 as an unknown id. Once approved, this call
   * redeems the request (once, across processes) and issues the session.
   */
  async poll(
    id: string,
    binding: string | undefined,
    ctx: RequestContext,
    o: { pace?: boolean } = {},
  ): Promise<PollAnswer> {
    this.requireEnabled();
    const row = await qrLoginById(this.d.db, id);
    if (!row || !binding || row.binding_hash !== sha256(binding)) throw new AppError('not_found');
    const now = this.d.clock.now();
    if (row.status === 'approved' && row.expires_at > now) return this.redeem(row, ctx);
    if (row.status === 'declined') return { status: 'declined' };
    if ((row.status !== 'pending' && row.status !== 'shown') || row.expires_at <= now) {
      this.polls.delete(id);
      return { status: 'expired' };
    }
    let interval = this.d.config.qr.interval;
    if (o.pace !== false) {
      const last = this.polls.get(id);
      interval = last?.interval ?? interval;
      if (last && now - last.at < last.interval - POLL_SLACK_MS) {
        last.interval += SLOW_DOWN_STEP_MS;
        last.at = now;
        return { status: 'slow_down', interval: last.interval };
      }
      if (this.polls.size >= POLL_MEMORY_MAX) this.polls.clear();
      this.polls.set(id, { at: now, interval });
    }
    // QR-01: a code no phone has opened is replaced every LATCHKEY_QR_ROTATE (the page asks for it).
    const rotate = row.status === 'pending' && now >= row.created_at + this.d.config.qr.rotate;
    return { status: row.status, interval, number: row.number, expiresAt: row.expires_at, rotate };
  }

  private async redeem(row: QrLogin, ctx: RequestContext): Promise<PollAnswer> {
    const now = this.d.clock.now();
    // The one conditional update that makes redemption single-use, whichever process gets here first.
    const won = await moveQrLogin(
      this.d.db,
      row.id,
      ['approved'],
      { status: 'redeemed', redeemed_at: now },
      { notExpiredAt: now, bindingHash: row.binding_hash },
    );
    this.polls.delete(row.id);
    if (!won) return { status: 'expired' };
    const account = row.account_id ? await findAccount(this.d.db, row.account_id) : undefined;
    // QR-06: the approving session must still exist; a phone signed out meanwhile approves nothing.
    const approver = row.approver_session_id
      ? await this.d.db
          .selectFrom('sessions')
          .select(['id', 'expires_at'])
          .where('id', '=', row.approver_session_id)
          .executeTakeFirst()
      : undefined;
    if (!account || !approver || approver.expires_at <= now) {
      await this.d.audit.record('qr.redeem_refused', ctx, {
        accountId: account?.id ?? null,
        details: { request: row.id, reason: !account ? 'account' : 'approving_session_ended' },
      });
      return { status: 'expired' };
    }
    const amr = parseAmr(row.approver_amr);
    // BF-05: complete asks the new browser for the account's second factor unless the phone's
    // session proved one (its amr carries it over, QR-06).
    const result = await this.d.signIn.complete(account, { method: 'qr', amr }, ctx);
    const report = newToken(this.d.random);
    if (result.status === 'signed_in')
      await this.d.db
        .updateTable('qr_logins')
        .set({ session_id: result.session.id, report_hash: sha256(report) })
        .where('id', '=', row.id)
        .execute();
    await this.d.audit.record('qr.redeemed', ctx, {
      accountId: account.id,
      details: {
        request: row.id,
        phoneIp: row.approver_ip,
        phoneAgent: row.approver_user_agent,
        amr: serializeAmr(amr),
        secondFactorStep: result.status !== 'signed_in',
      },
    });
    // The notice's "This wasn't me" ends this session; after a second-factor step the session
    // comes from that step, and the step's own sign-in record covers it.
    if (result.status === 'signed_in') await this.notify(account, row, ctx, report);
    return { status: 'approved', result };
  }

  /** QR-09: "New sign-in by QR code", with a single-use "This wasn't me" link. */
  private async notify(account: Account, row: QrLogin, ctx: RequestContext, report: string): Promise<void> {
    if (!account.email) return;
    const brand = await this.d.organizations.brandFor(account);
    // The owner's saved language, else the language of the browser that just signed in.
    const mail = withLocale(account.locale ?? currentLocale(), () => {
      const { browser, os } = describeBrowser(ctx.userAgent);
      return renderMail(brand, {
        subject: t('qr.mail.title'),
        title: t('qr.mail.title'),
        lines: [
          t('qr.mail.line', {
            username: account.username,
            browser,
            os,
            ip: ctx.ip || t('qr.unknown'),
            time: formatTime(this.d.clock.now()),
          }),
          t('qr.mail.approved_from', { ip: row.approver_ip || t('qr.unknown') }),
        ],
        action: { label: t('qr.report_title'), url: `${this.d.config.publicUrl}/qr/report/${report}` },
        after: [t('qr.mail.after')],
      });
    });
    await this.d.outbox.send(this.d.db, { channel: 'email', kind: 'qr_sign_in', to: account.email, ...mail });
  }

  /**
   * The phone opens a request by its QR secret or typed code (QR-03). The first account to open
   * it holds it: any other account gets the same answer as a dead link (single use).
   */
  async open(secretOrCode: string, auth: Authenticated, ctx: RequestContext): Promise<ApprovalView> {
    this.requireEnabled();
    await this.d.guard.limit('qr_approve', ctx, auth.account.id);
    await this.requireEnabledFor(auth.account);
    const row = await this.find(secretOrCode);
    const now = this.d.clock.now();
    if (!row || row.expires_at <= now) throw new AppError('invalid_token', t('qr.used'));
    const first = row.status === 'pending';
    const moved = await moveQrLogin(
      this.d.db,
      row.id,
      ['pending', 'shown'],
      { status: 'shown', shown_at: row.shown_at ?? now, account_id: auth.account.id },
      { notExpiredAt: now, accountIdOrNull: auth.account.id, secretHash: row.secret_hash },
    );
    if (!moved) throw new AppError('invalid_token', t('qr.used'));
    if (first)
      await this.d.audit.record('qr.shown', ctx, {
        accountId: auth.account.id,
        details: { request: row.id, browserIp: row.ip, browserAgent: row.user_agent },
      });
    return { ...this.view(row, ctx), passkey: await this.hasPasskey(auth.account.id) };
  }

  private async find(secretOrCode: string): Promise<QrLogin | undefined> {
    if (typeof secretOrCode !== 'string' || secretOrCode.length > 64) return undefined;
    if (/^[A-Za-z0-9_-]{43}$/.test(secretOrCode)) return qrLoginBySecretHash(this.d.db, sha256(secretOrCode));
    const code = normalizeCode(secretOrCode);
    if (!code) return undefined;
    return liveQrLoginByCodeHash(this.d.db, this.codeHash(code), this.d.clock.now());
  }

  /** The request `id` if `secretOrCode` is its secret or its typed code; nothing otherwise (QR-03). */
  private async withSecret(id: string, secretOrCode: string): Promise<QrLogin> {
    const row = await this.find(secretOrCode);
    if (!row || row.id !== id) throw new AppError('invalid_token', t('qr.used'));
    return row;
  }

  private view(row: QrLogin, ctx: RequestContext): Omit<ApprovalView, 'passkey'> {
    const { browser, os } = describeBrowser(row.user_agent);
    return {
      id: row.id,
      browser,
      os,
      ip: row.ip,
      createdAt: isoTime(row.created_at),
      expiresAt: isoTime(row.expires_at),
      differentNetwork: differentNetwork(row.ip, ctx.ip),
      choices: this.choices(row),
    };
  }

  /** QR-07: the right number and two others, in an order fixed per request (a reload shows the same). */
  private choices(row: QrLogin): number[] {
    const h = Buffer.from(keyedHash(this.d.secret, 'qr-choices', row.id), 'base64url');
    const out = [row.number];
    for (let i = 0; out.length < 3; i++) {
      const n = 10 + ((h.readUInt16BE((i * 2) % (h.length - 1)) + i) % 90);
      if (!out.includes(n)) out.push(n);
    }
    const at = h[h.length - 1] % 3;
    [out[0], out[at]] = [out[at] as number, out[0] as number];
    return out;
  }

  /** The details again, for the API (`GET …/details`): the secret or code must come along. */
  async details(id: string, secretOrCode: string, auth: Authenticated, ctx: RequestContext): Promise<ApprovalView> {
    this.requireEnabled();
    const row = await this.find(secretOrCode);
    if (!row || (id !== '-' && row.id !== id)) {
      await this.d.guard.limit('qr_approve', ctx, auth.account.id);
      throw new AppError('invalid_token', t('qr.used'));
    }
    return this.open(secretOrCode, auth, ctx);
  }

  /**
   * Approve (QR-03, QR-07, QR-08): the secret or typed code, the right number, a recent session
   * and the account's password now. A wrong number cancels the request.
   */
  async approve(
    id: string,
    input: { secret: string; number: number; password?: string; webauthn?: unknown },
    auth: Authenticated,
    ctx: RequestContext,
  ): Promise<void> {
    this.requireEnabled();
    const d = this.d;
    await d.guard.limit('qr_approve', ctx, auth.account.id);
    await this.requireEnabledFor(auth.account);
    const row = await this.withSecret(id, input.secret);
    const now = d.clock.now();
    const live = (row.status === 'pending' || row.status === 'shown') && row.expires_at > now;
    if (!live || (row.account_id !== null && row.account_id !== auth.account.id))
      throw new AppError('invalid_token', t('qr.used'));
    if (input.number !== row.number) {
      await this.cancel(row, auth, ctx, 'wrong_number');
      throw new AppError('invalid_code', t('qr.wrong_number'));
    }
    // QR-08: a session older than the re-authentication window may not approve at all.
    d.sessions.requireRecentAuth(auth.session);
    // The fresh local check: the password, or (an account may have none) a passkey with user
    // verification whose challenge was issued for this request and this session only.
    if (input.webauthn !== undefined && input.webauthn !== null && input.webauthn !== '')
      await verifyAssertion(d, asAssertion(input.webauthn), 'qr_approve', passkeyBinding(row.id, auth), ctx, {
        requireUserVerification: true,
        accountId: auth.account.id,
      });
    else await this.checkPassword(auth.account, input.password ?? '', ctx);
    const amr: Amr[] = parseAmr(auth.session.amr);
    if (d.qrSecondFactorRequired && (await d.qrSecondFactorRequired(auth.account)) && !isMultiFactor(amr))
      throw new AppError('forbidden', t('qr.org_second_factor'));
    const approved = await moveQrLogin(
      d.db,
      row.id,
      ['pending', 'shown'],
      {
        status: 'approved',
        account_id: auth.account.id,
        approver_session_id: auth.session.id,
        approver_amr: serializeAmr(amr),
        approver_ip: ctx.ip || null,
        approver_user_agent: ctx.userAgent ? ctx.userAgent.slice(0, 256) : null,
        decided_at: now,
      },
      { notExpiredAt: now, secretHash: row.secret_hash, accountIdOrNull: auth.account.id },
    );
    if (!approved) throw new AppError('invalid_token', t('qr.used'));
    await d.audit.record('qr.approved', ctx, {
      accountId: auth.account.id,
      details: { request: row.id, browserIp: row.ip, browserAgent: row.user_agent },
    });
  }

  /**
   * QR-08 for an account that confirms with a passkey: request options for its own passkeys, user
   * verification required, the challenge bound to this request and the approving session.
   */
  async approvalPasskeyOptions(
    id: string,
    secret: string,
    auth: Authenticated,
    ctx: RequestContext,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    this.requireEnabled();
    const d = this.d;
    await d.guard.limit('qr_approve', ctx, auth.account.id);
    await this.requireEnabledFor(auth.account);
    const row = await this.withSecret(id, secret);
    const live = (row.status === 'pending' || row.status === 'shown') && row.expires_at > d.clock.now();
    if (!live || (row.account_id !== null && row.account_id !== auth.account.id))
      throw new AppError('invalid_token', t('qr.used'));
    d.sessions.requireRecentAuth(auth.session);
    if (!(await this.hasPasskey(auth.account.id))) throw new AppError('conflict', t('qr.no_passkey'));
    return accountAssertionOptions(d, auth.account.id, 'qr_approve', passkeyBinding(row.id, auth), 'required');
  }

  private async hasPasskey(accountId: string): Promise<boolean> {
    return (await listPasskeys(this.d.db, accountId)).some((k) => !k.flagged_at);
  }

  /** QR-04: decline is always possible for whoever holds the secret or code. */
  async decline(id: string, secretOrCode: string, auth: Authenticated, ctx: RequestContext): Promise<void> {
    this.requireEnabled();
    await this.d.guard.limit('qr_approve', ctx, auth.account.id);
    const row = await this.withSecret(id, secretOrCode);
    if (row.account_id !== null && row.account_id !== auth.account.id)
      throw new AppError('invalid_token', t('qr.used'));
    await this.cancel(row, auth, ctx, 'declined');
  }

  private async cancel(row: QrLogin, auth: Authenticated, ctx: RequestContext, reason: string): Promise<void> {
    const now = this.d.clock.now();
    const moved = await moveQrLogin(
      this.d.db,
      row.id,
      ['pending', 'shown'],
      { status: 'declined', decided_at: now, account_id: auth.account.id },
      { accountIdOrNull: auth.account.id },
    );
    if (moved)
      await this.d.audit.record('qr.declined', ctx, {
        accountId: auth.account.id,
        details: { request: row.id, reason, browserIp: row.ip, browserAgent: row.user_agent },
      });
  }

  /** QR-08's fresh local check, counted like a sign-in attempt against the account's lockout (BF-06). */
  private async checkPassword(account: Account, password: string, ctx: RequestContext): Promise<void> {
    const d = this.d;
    const fresh = await findAccount(d.db, account.id);
    let ok = false;
    if (fresh?.password_hash && password) {
      const key = `account:${fresh.id}`;
      const attempt = await d.guard.signInReserve(key, fresh.id, ctx);
      const pw = normalizePassword(password);
      if (attempt.locked) await d.hasher.burn(pw);
      else ok = await d.hasher.verify(fresh.password_hash, pw);
      if (ok) await d.guard.signInSucceeded(key, fresh.id, ctx, attempt);
      else await d.guard.signInFailed(key, fresh.id, ctx, attempt);
    }
    if (!ok) {
      await d.audit.record('qr.approve_failed', ctx, { accountId: account.id, details: { reason: 'wrong_password' } });
      throw new AppError('current_password_wrong', fresh?.password_hash ? t('qr.password_wrong') : t('qr.no_password'));
    }
  }

  /**
   * QR-09 "This wasn't me": ends the session the request was redeemed for at once (a row
   * deleted; every process checks the store, see SessionService.authenticate) and flags the
   * account for staff review. The link works once.
   */
  async report(token: string, ctx: RequestContext): Promise<void> {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) throw new AppError('invalid_token');
    const now = this.d.clock.now();
    await this.d.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('qr_logins')
        .selectAll()
        .where('report_hash', '=', sha256(token))
        .where('reported_at', 'is', null)
        .executeTakeFirst();
      if (!row?.account_id) throw new AppError('invalid_token');
      const res = await trx
        .updateTable('qr_logins')
        .set({ reported_at: now })
        .where('id', '=', row.id)
        .where('reported_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) throw new AppError('invalid_token');
      let ended = 0;
      if (row.session_id) {
        const del = await trx.deleteFrom('sessions').where('id', '=', row.session_id).executeTakeFirst();
        ended = Number(del.numDeletedRows);
      }
      const reason = 'possibly compromised: the owner reported a QR sign-in as not theirs';
      const flagged = await trx
        .updateTable('accounts')
        .set({ flagged_at: now, flag_reason: reason, updated_at: now })
        .where('id', '=', row.account_id)
        .where('flagged_at', 'is', null)
        .executeTakeFirst();
      await this.d.audit.record(
        'qr.reported',
        ctx,
        {
          accountId: row.account_id,
          details: { request: row.id, ended, browserIp: row.ip, phoneIp: row.approver_ip },
        },
        trx,
      );
      // Staff look at it in the review queue; opened with the report so neither lands alone.
      await openReviewItem(
        this.d,
        {
          kind: 'qr_reported',
          accountId: row.account_id,
          reason: 'The owner reported a QR sign-in as not theirs ("This wasn\'t me").',
          details: { request: row.id, ended, browserIp: row.ip, phoneIp: row.approver_ip },
        },
        trx,
      );
      if (Number(flagged.numUpdatedRows) === 1)
        await this.d.audit.record(
          'account.flagged',
          ctx,
          { accountId: row.account_id, details: { reason: 'qr_reported' } },
          trx,
        );
    });
  }

  /** The per-organization switch (QR-09), for its admins with a recent sign-in (SES-07, ADM-05). */
  async setForOrganization(slug: string, enabled: boolean, auth: Authenticated, ctx: RequestContext): Promise<void> {
    const org = await this.d.organizations.requireAdminChange(slug, auth, ctx, 'organization.qr_login');
    await this.d.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('organizations')
        .set({ qr_login: enabled ? 1 : 0 })
        .where('id', '=', org.id)
        .execute();
      await this.d.audit.record(
        'org.qr_login_changed',
        ctx,
        { actorId: auth.account.id, details: { org: org.slug, enabled } },
        trx,
      );
    });
  }

  async forOrganization(slug: string, auth: Authenticated, ctx: RequestContext): Promise<boolean> {
    const org = await this.d.organizations.requireAdmin(slug, auth.account, ctx, 'organization.read');
    const row = await this.d.db
      .selectFrom('organizations')
      .select('qr_login')
      .where('id', '=', org.id)
      .executeTakeFirst();
    return (row?.qr_login ?? 1) === 1;
  }
}
