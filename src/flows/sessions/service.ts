import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { type SignInProof, serializeAmr } from '../../security/amr.ts';
import { isoTime } from '../../security/clock.ts';
import { sha256 } from '../../security/hashing.ts';
import { newId, newToken } from '../../security/random.ts';
import type { Account } from '../../store/accounts.ts';
import type { PreparedRead } from '../../store/db.ts';
import type { Database } from '../../store/schema.ts';
import {
  endAccountSession,
  endAccountSessions,
  endSession,
  insertSession,
  listLiveSessions,
  type Session,
  sessionLookupQuery,
  sessionLookupRow,
  setSessionTokenHash,
  touchSession,
} from '../../store/sessions.ts';
import { forgetTrustedDevices } from '../../store/trusted-devices.ts';
import type { Authenticated } from '../../web/auth.ts';
import { revokeAppAccess } from '../apps/revoke.ts';

/** What this module uses of the container the composition root builds. */
export type SessionDeps = Pick<Kernel, 'config' | 'store' | 'db' | 'clock' | 'random' | 'audit' | 'outbox'>;

export type { Session };

export interface SessionView {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  method: string;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

// Touching last_seen_at on every request would make every read a write; a minute of slack in
// the idle timeout is a fair price for session checks that stay reads.
const TOUCH_EVERY_MS = 60_000;

/** Server-side sessions (SES-01..SES-08): the cookie holds a 256-bit token, the table its SHA-256. */
export class SessionService {
  private lookup?: PreparedRead;
  private readonly built = new WeakMap<unknown[], Authenticated>();
  constructor(private readonly d: SessionDeps) {}

  async create(
    account: Account,
    proof: SignInProof,
    ctx: RequestContext,
    db: Kysely<Database> = this.d.db,
  ): Promise<{ token: string; session: Session }> {
    const now = this.d.clock.now();
    const token = newToken(this.d.random);
    const session: Session = {
      id: newId(this.d.random),
      account_id: account.id,
      token_hash: sha256(token),
      created_at: now,
      last_seen_at: now,
      expires_at: now + this.d.config.session.absoluteTtl,
      auth_at: now,
      method: proof.method,
      ip: ctx.ip || null,
      user_agent: ctx.userAgent ? ctx.userAgent.slice(0, 256) : null,
      amr: serializeAmr(proof.amr),
    };
    await insertSession(db, session);
    return { token, session };
  }

  /**
   * The session and account behind a cookie token, or null when unknown, expired or the account
   * is not active. Answers synchronously when the store does (SQLite) and nothing needs writing,
   * so the most frequent request of all stays in one tick; otherwise a promise.
   */
  authenticate(token: string | undefined): Authenticated | null | Promise<Authenticated | null> {
    if (!token || token.length > 128) return null;
    // One query for session and account, prepared once on the engine: this runs on every
    // signed-in request (see Store.preparedRead for why it bypasses the query builder).
    this.lookup ??= this.d.store.preparedRead(sessionLookupQuery(this.d.db));
    const rows = this.lookup([sha256(token)]);
    return rows instanceof Promise ? rows.then((r) => this.check(r[0])) : this.check(rows[0]);
  }

  private check(row: unknown[] | undefined): Authenticated | null | Promise<Authenticated | null> {
    if (!row) return null;
    const now = this.d.clock.now();
    // A row the store remembers comes back as the same array, so its objects are built once.
    // They are shared by every request until the row changes, hence frozen.
    let found = this.built.get(row);
    if (!found) {
      const parts = sessionLookupRow(row);
      Object.freeze(parts.session);
      Object.freeze(parts.account);
      found = Object.freeze(parts);
      this.built.set(row, found);
    }
    const { session, account } = found;
    if (session.expires_at <= now || session.last_seen_at + this.d.config.session.idleTtl <= now) {
      return endSession(this.d.db, session.id).then(() => null);
    }
    if (account.status !== 'active') return null;
    if (now - session.last_seen_at > TOUCH_EVERY_MS) {
      return touchSession(this.d.db, session.id, now).then(() => ({
        session: { ...session, last_seen_at: now },
        account,
      }));
    }
    return found;
  }

  /** Requires a sign-in within the re-authentication window (SES-07). */
  requireRecentAuth(session: Session): void {
    if (this.d.clock.now() - session.auth_at > this.d.config.session.reauthWindow)
      throw new AppError('reauthentication_required');
  }

  async list(accountId: string, currentId?: string): Promise<SessionView[]> {
    const now = this.d.clock.now();
    const idle = this.d.config.session.idleTtl;
    const rows = await listLiveSessions(this.d.db, accountId, now, now - idle);
    return rows.map((s) => ({
      id: s.id,
      createdAt: isoTime(s.created_at),
      lastSeenAt: isoTime(s.last_seen_at),
      expiresAt: isoTime(Math.min(s.expires_at, s.last_seen_at + idle)),
      method: s.method,
      ip: s.ip,
      userAgent: s.user_agent,
      current: s.id === currentId,
    }));
  }

  /** Ends one of the account's own sessions; another account's id is simply not found. */
  async revoke(accountId: string, sessionId: string, ctx: RequestContext): Promise<void> {
    if (!(await endAccountSession(this.d.db, accountId, sessionId)))
      throw new AppError('not_found', t('sessions.not_found'));
    await this.d.audit.record('session.ended', ctx, { accountId, details: { reason: 'user' } });
  }

  async signOut(session: Session, ctx: RequestContext): Promise<void> {
    await endSession(this.d.db, session.id);
    await this.d.audit.record('session.ended', ctx, { accountId: session.account_id, details: { reason: 'sign_out' } });
  }

  /** "Sign out everywhere": every session of the account, this one included, and every app's grant (OP-04). */
  async signOutEverywhere(accountId: string, ctx: RequestContext): Promise<number> {
    const { ended, apps } = await this.d.db.transaction().execute(async (trx) => ({
      ended: await this.endAll(accountId, trx),
      apps: await revokeAppAccess(this.d, trx, accountId, 'sign_out_everywhere'),
    }));
    // Remembered browsers ("don't ask again") are forgotten too: a lost laptop must answer the factor.
    await forgetTrustedDevices(this.d.db, accountId);
    await this.d.audit.record('session.ended', ctx, {
      accountId,
      details: { reason: 'sign_out_everywhere', count: ended, appsRevoked: apps },
    });
    return ended;
  }

  /** Ends every session of the account except `keepId` (SES-06, REC-09); returns how many ended. */
  async endAll(accountId: string, db: Kysely<Database> = this.d.db, keepId?: string): Promise<number> {
    return endAccountSessions(db, accountId, keepId);
  }

  /** Gives the current session a new token (SES-06): a token seen before the change stops working. */
  async rotate(session: Session, db: Kysely<Database> = this.d.db): Promise<string> {
    const token = newToken(this.d.random);
    await setSessionTokenHash(db, session.id, sha256(token));
    return token;
  }
}
