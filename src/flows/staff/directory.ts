import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { isoTime } from '../../security/clock.ts';
import { keyedHash } from '../../security/hashing.ts';
import { foldCase, normalizeEmail, trimSpaces, usernameKey } from '../../security/identifiers.ts';
import { type SearchColumn, searchAccounts } from '../../store/account-search.ts';
import type { Account } from '../../store/accounts.ts';
import { listLiveSessions } from '../../store/sessions.ts';
import { staffRoleOf } from '../../store/staff.ts';
import type { Viewer } from './guard.ts';
import { ROLE_NAME } from './roles.ts';

/** What this module uses of the container the composition root builds. */
export type DirectoryDeps = Pick<Kernel, 'config' | 'db' | 'engine' | 'clock' | 'secret' | 'guard'> & {
  staffGuard: { orgScope(v: Viewer): string[] | null };
};

export const SEARCH_LIMIT = 50;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
export const CONTROL = /[\u0000-\u001f\u007f]/;

export interface AccountSummary {
  id: string;
  username: string;
  email: string | null;
  phone: string | null;
  status: string;
  createdAt: string;
  flagged: boolean;
  staff: boolean;
  /** what matched: `username`, `email` or `phone`, exact or by prefix */
  match: string;
}

/** A session as staff see it: a handle derived from its id (the id itself never leaves the server). */
export interface StaffSessionView {
  handle: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  method: string;
  ip: string | null;
  userAgent: string | null;
}

export interface AccountDetail {
  id: string;
  username: string;
  displayName: string | null;
  email: string | null;
  phone: string | null;
  phoneVerified: boolean;
  status: string;
  createdAt: string;
  activatedAt: string | null;
  lastSignInAt: string | null;
  passwordChangedAt: string | null;
  hasPassword: boolean;
  locked: boolean;
  flag: { at: string; reason: string | null } | null;
  staffRole: string | null;
  organization: { slug: string; name: string };
  organizationRoles: { slug: string; role: string }[];
  sessions: StaffSessionView[];
  identities: {
    provider: string;
    email: string | null;
    displayName: string | null;
    linkedAt: string;
    lastUsedAt: string | null;
  }[];
  secondFactors: {
    kind: string;
    name: string;
    createdAt: string;
    confirmed: boolean;
    lastUsedAt: string | null;
    flaggedAt: string | null;
  }[];
  recoveryCodesLeft: number;
  /** live reset links and codes: by which method, until when (never the secret) */
  pendingResets: { method: string; expiresAt: string }[];
  audit: AuditView[];
}

export interface AuditView {
  at: string;
  event: string;
  accountId: string | null;
  actorId: string | null;
  actor: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown> | null;
}

const iso = (v: number | null) => (v === null || v === undefined ? null : isoTime(Number(v)));

export function parseDetails(raw: string | null): Record<string, unknown> | null {
  if (!raw) return null;
  try {
    const v: unknown = JSON.parse(raw);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The read side of the console's accounts: search and the account page. */
export class AccountDirectory {
  constructor(private readonly d: DirectoryDeps) {}

  /** A session's handle: keyed, so it reveals nothing of the id and cannot be made up. */
  sessionHandle(sessionId: string): string {
    return keyedHash(this.d.secret, 'staff-session-handle', sessionId).slice(0, 22);
  }

  /**
   * Username, email or phone, exact or by prefix, on the normalised keys (ID-01/ID-02): every
   * spelling of one identifier finds the same accounts. Exact matches come first.
   */
  async search(v: Viewer, raw: string, exact = false): Promise<AccountSummary[]> {
    const q = trimSpaces(String(raw ?? '')).normalize('NFKC');
    if (!q) return [];
    if (q.length > 320) throw new AppError('validation_failed', t('staff.search.too_long'));
    // No identifier holds control characters (and PostgreSQL text cannot hold NUL).
    if (CONTROL.test(q)) throw new AppError('validation_failed', t('staff.search.control'));
    const orgIds = this.d.staffGuard.orgScope(v);
    const tries: [SearchColumn, string, string][] = [];
    if (q.includes('@')) tries.push(['email_key', normalizeEmail(q) ?? foldCase(q), 'email']);
    else {
      tries.push(['username_key', usernameKey(q), 'username']);
      tries.push(['email_key', foldCase(q), 'email']);
    }
    // Phones are stored as E.164: "+44 7700 900123", "0044…" and "447700…" all become +447700…
    if (/^(\+|00)?[\d\s().-]{3,}$/.test(q)) {
      const digits = q.replace(/^00/, '').replace(/\D/g, '');
      if (digits) tries.push(['phone', `+${digits}`, 'phone']);
    }
    const seen = new Map<string, AccountSummary & { exactHit: boolean; key: string }>();
    for (const [column, key, label] of tries) {
      const rows = await searchAccounts(this.d.db, this.d.engine, column, key, { exact, limit: SEARCH_LIMIT, orgIds });
      for (const r of rows) {
        const value =
          column === 'username_key'
            ? usernameKey(r.username)
            : column === 'email_key'
              ? (r.email ?? '')
              : (r.phone ?? '');
        const exactHit = column === 'email_key' ? foldCase(value) === key : value === key;
        const prev = seen.get(r.id);
        if (prev && (prev.exactHit || !exactHit)) continue;
        seen.set(r.id, {
          id: r.id,
          username: r.username,
          email: r.email,
          phone: r.phone,
          status: r.status,
          createdAt: isoTime(Number(r.created_at)),
          flagged: r.flagged_at !== null,
          staff: Boolean(r.is_staff),
          match: `${label}${exactHit ? '' : ' prefix'}`,
          exactHit,
          key: value,
        });
      }
    }
    return [...seen.values()]
      .sort((a, b) => Number(b.exactHit) - Number(a.exactHit) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, SEARCH_LIMIT)
      .map(({ exactHit: _e, key: _k, ...rest }) => rest);
  }

  async detail(account: Account, ctx: RequestContext): Promise<AccountDetail> {
    const d = this.d;
    const now = d.clock.now();
    const idle = d.config.session.idleTtl;
    const [org, orgRoles, lastSignIn, sessions, identities, factors, codesLeft, resets, staffRole, gate, audit] =
      await Promise.all([
        d.db.selectFrom('organizations').select(['slug', 'name']).where('id', '=', account.org_id).executeTakeFirst(),
        d.db
          .selectFrom('org_members')
          .innerJoin('organizations', 'organizations.id', 'org_members.org_id')
          .select(['organizations.slug', 'org_members.role'])
          .where('org_members.account_id', '=', account.id)
          .execute(),
        d.db
          .selectFrom('audit_log')
          .select('at')
          .where('account_id', '=', account.id)
          .where('event', '=', 'sign_in.succeeded')
          .orderBy('at', 'desc')
          .limit(1)
          .executeTakeFirst(),
        listLiveSessions(d.db, account.id, now, now - idle),
        d.db
          .selectFrom('external_identities')
          .select(['provider', 'email', 'display_name', 'created_at', 'last_used_at'])
          .where('account_id', '=', account.id)
          .orderBy('created_at')
          .execute(),
        d.db
          .selectFrom('second_factors')
          .select(['kind', 'name', 'created_at', 'confirmed_at', 'last_used_at', 'flagged_at'])
          .where('account_id', '=', account.id)
          .orderBy('created_at')
          .execute(),
        d.db
          .selectFrom('mfa_recovery_codes')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('account_id', '=', account.id)
          .where('used_at', 'is', null)
          .executeTakeFirst(),
        d.db
          .selectFrom('recovery_codes')
          .select(['method', 'expires_at'])
          .where('account_id', '=', account.id)
          .where('used_at', 'is', null)
          .where('expires_at', '>', now)
          .orderBy('expires_at', 'desc')
          .limit(10)
          .execute(),
        account.is_staff ? staffRoleOf(d.db, account.id) : undefined,
        d.guard.signInGate(account.username_key, ctx, account.id).catch(() => ({ locked: false })),
        this.recentAudit(account.id, 30),
      ]);
    return {
      id: account.id,
      username: account.username,
      displayName: account.display_name,
      email: account.email,
      phone: account.phone,
      phoneVerified: account.phone_verified_at !== null,
      status: account.status,
      createdAt: isoTime(Number(account.created_at)),
      activatedAt: iso(account.activated_at),
      lastSignInAt: iso(lastSignIn ? Number(lastSignIn.at) : null),
      passwordChangedAt: iso(account.password_changed_at),
      hasPassword: account.password_hash !== null,
      locked: gate.locked,
      flag:
        account.flagged_at !== null ? { at: isoTime(Number(account.flagged_at)), reason: account.flag_reason } : null,
      staffRole: staffRole ? ROLE_NAME[staffRole] : null,
      organization: { slug: org?.slug ?? '', name: org?.name ?? '' },
      organizationRoles: orgRoles.map((r) => ({ slug: r.slug, role: r.role })),
      sessions: sessions.map((s) => ({
        handle: this.sessionHandle(s.id),
        createdAt: isoTime(Number(s.created_at)),
        lastSeenAt: isoTime(Number(s.last_seen_at)),
        expiresAt: isoTime(Math.min(Number(s.expires_at), Number(s.last_seen_at) + idle)),
        method: s.method,
        ip: s.ip,
        userAgent: s.user_agent,
      })),
      identities: identities.map((i) => ({
        provider: i.provider,
        email: i.email,
        displayName: i.display_name,
        linkedAt: isoTime(Number(i.created_at)),
        lastUsedAt: iso(i.last_used_at),
      })),
      secondFactors: factors.map((f) => ({
        kind: f.kind,
        name: f.name,
        createdAt: isoTime(Number(f.created_at)),
        confirmed: f.confirmed_at !== null,
        lastUsedAt: iso(f.last_used_at),
        flaggedAt: iso(f.flagged_at),
      })),
      recoveryCodesLeft: Number(codesLeft?.n ?? 0),
      pendingResets: resets.map((r) => ({ method: r.method, expiresAt: isoTime(Number(r.expires_at)) })),
      audit,
    };
  }

  /** The account's latest audit records, with the actor's username. */
  async recentAudit(accountId: string, limit: number): Promise<AuditView[]> {
    const rows = await this.d.db
      .selectFrom('audit_log')
      .leftJoin('accounts as actor', 'actor.id', 'audit_log.actor_id')
      .select([
        'audit_log.at',
        'audit_log.event',
        'audit_log.account_id',
        'audit_log.actor_id',
        'actor.username as actor',
        'audit_log.ip',
        'audit_log.user_agent',
        'audit_log.details',
      ])
      .where('audit_log.account_id', '=', accountId)
      .orderBy('audit_log.at', 'desc')
      .limit(limit)
      .execute();
    return rows.map(auditView);
  }
}

export function auditView(r: {
  at: number;
  event: string;
  account_id: string | null;
  actor_id: string | null;
  actor: string | null;
  ip: string | null;
  user_agent: string | null;
  details: string | null;
}): AuditView {
  return {
    at: isoTime(Number(r.at)),
    event: r.event,
    accountId: r.account_id,
    actorId: r.actor_id,
    actor: r.actor,
    ip: r.ip,
    userAgent: r.user_agent,
    details: parseDetails(r.details),
  };
}
