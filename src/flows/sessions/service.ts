import type { Kysely, Selectable } from 'kysely';
import type { Deps } from '../../deps.ts';
import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Account } from '../../store/accounts.ts';
import type { PreparedRead } from '../../store/db.ts';
import { insertRow } from '../../store/insert-row.ts';
import type { Database, SessionsTable } from '../../store/schema.ts';
import { sha256 } from '../../security/hashing.ts';
import { newId, newToken } from '../../security/random.ts';
import { isoTime } from '../../security/clock.ts';

export type Session = Selectable<SessionsTable>;

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

export interface Authenticated {
  session: Session;
  account: Account;
}

// Touching last_seen_at on every request would make every read a write; a minute of slack in
// the idle timeout is a fair price for session checks that stay reads.
const TOUCH_EVERY_MS = 60_000;

// Every column of both tables, in a fixed order: the lookup answers arrays in this order. A
// column added to either table stops these lines compiling until it is listed.
const SESSION_COLUMNS = Object.keys({
  id: 1,
  account_id: 1,
  token_hash: 1,
  created_at: 1,
  last_seen_at: 1,
  expires_at: 1,
  auth_at: 1,
  method: 1,
  ip: 1,
  user_agent: 1,
} satisfies Record<keyof Session, 1>) as (keyof Session)[];
const ACCOUNT_COLUMNS = Object.keys({
  id: 1,
  org_id: 1,
  username: 1,
  username_key: 1,
  username_skeleton: 1,
  email: 1,
  email_key: 1,
  status: 1,
  password_hash: 1,
  display_name: 1,
  phone: 1,
  phone_verified_at: 1,
  is_staff: 1,
  flagged_at: 1,
  flag_reason: 1,
  created_at: 1,
  updated_at: 1,
  activated_at: 1,
  password_changed_at: 1,
} satisfies Record<keyof Account, 1>) as (keyof Account)[];

/** Session + account by token hash, compiled once; the hash is its only parameter. */
function lookupQuery(db: Kysely<Database>) {
  return db
    .selectFrom('sessions')
    .innerJoin('accounts', 'accounts.id', 'sessions.account_id')
    .select([
      ...SESSION_COLUMNS.map((c) => `sessions.${c}` as const),
      ...ACCOUNT_COLUMNS.map((c) => `accounts.${c}` as const),
    ])
    .where('sessions.token_hash', '=', '')
    .compile();
}

function fromColumns<T>(row: unknown[], offset: number, columns: readonly (keyof T)[]): T {
  const out = {} as Record<keyof T, unknown>;
  for (let i = 0; i < columns.length; i++) out[columns[i] as keyof T] = row[offset + i];
  return out as T;
}

/** Server-side sessions (SES-01..SES-08): the cookie holds a 256-bit token, the table its SHA-256. */
export class SessionService {
  private lookup?: PreparedRead;
  private readonly built = new WeakMap<unknown[], Authenticated>();
  constructor(private readonly d: Deps) {}

  async create(
    account: Account,
    method: string,
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
      method,
      ip: ctx.ip || null,
      user_agent: ctx.userAgent ? ctx.userAgent.slice(0, 256) : null,
    };
    await insertRow(db, 'sessions', session);
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
    this.lookup ??= this.d.store.preparedRead(lookupQuery(this.d.db));
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
      found = Object.freeze({
        session: Object.freeze(fromColumns<Session>(row, 0, SESSION_COLUMNS)),
        account: Object.freeze(fromColumns<Account>(row, SESSION_COLUMNS.length, ACCOUNT_COLUMNS)),
      });
      this.built.set(row, found);
    }
    const { session, account } = found;
    if (session.expires_at <= now || session.last_seen_at + this.d.config.session.idleTtl <= now) {
      return this.d.db
        .deleteFrom('sessions')
        .where('id', '=', session.id)
        .execute()
        .then(() => null);
    }
    if (account.status !== 'active') return null;
    if (now - session.last_seen_at > TOUCH_EVERY_MS) {
      return this.d.db
        .updateTable('sessions')
        .set({ last_seen_at: now })
        .where('id', '=', session.id)
        .execute()
        .then(() => ({ session: { ...session, last_seen_at: now }, account }));
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
    const rows = await this.d.db
      .selectFrom('sessions')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('expires_at', '>', now)
      .where('last_seen_at', '>', now - idle)
      .orderBy('last_seen_at', 'desc')
      .execute();
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
    const res = await this.d.db
      .deleteFrom('sessions')
      .where('id', '=', sessionId)
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new AppError('not_found', 'No such session.');
    await this.d.audit.record('session.ended', ctx, { accountId, details: { reason: 'user' } });
  }

  async signOut(session: Session, ctx: RequestContext): Promise<void> {
    await this.d.db.deleteFrom('sessions').where('id', '=', session.id).execute();
    await this.d.audit.record('session.ended', ctx, { accountId: session.account_id, details: { reason: 'sign_out' } });
  }

  /** "Sign out everywhere": every session of the account, this one included, recorded once. */
  async signOutEverywhere(accountId: string, ctx: RequestContext): Promise<number> {
    const ended = await this.endAll(accountId);
    await this.d.audit.record('session.ended', ctx, { accountId, details: { reason: 'sign_out_everywhere', count: ended } });
    return ended;
  }

  /** Ends every session of the account except `keepId` (SES-06, REC-09); returns how many ended. */
  async endAll(accountId: string, db: Kysely<Database> = this.d.db, keepId?: string): Promise<number> {
    let q = db.deleteFrom('sessions').where('account_id', '=', accountId);
    if (keepId) q = q.where('id', '!=', keepId);
    const res = await q.executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Gives the current session a new token (SES-06): a token seen before the change stops working. */
  async rotate(session: Session, db: Kysely<Database> = this.d.db): Promise<string> {
    const token = newToken(this.d.random);
    await db.updateTable('sessions').set({ token_hash: sha256(token) }).where('id', '=', session.id).execute();
    return token;
  }
}
