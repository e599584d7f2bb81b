import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { findAccount, findAccountByIdentifier } from '../../store/accounts.ts';
import { type AuditView, auditView, CONTROL } from './directory.ts';

/** What this module uses of the container the composition root builds. */
export type AuditTrailDeps = Pick<Kernel, 'db'>;

/** Filters as typed: account and actor by username, email or id; event exact or `prefix*`; ISO times. */
export interface AuditFilterInput {
  account?: string;
  actor?: string;
  event?: string;
  from?: string;
  to?: string;
}

interface AuditFilter {
  accountId?: string;
  actorId?: string;
  event?: string;
  eventPrefix?: string;
  from?: number;
  to?: number;
}

export const PAGE_SIZE = 100;
const EXPORT_BATCH = 500;
const EVENT = /^[a-z0-9_.]{1,64}\*?$/;

function time(raw: string | undefined, field: string): number | undefined {
  if (!raw) return undefined;
  const ms = raw.length <= 40 ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new AppError('validation_failed', undefined, {
      fields: [{ field, code: 'time', message: t('staff.audit.bad_time') }],
    });
  return ms;
}

/** The install's audit trail for staff: filtered pages, and a streamed export (JSON lines or CSV). */
export class AuditTrail {
  constructor(private readonly d: AuditTrailDeps) {}

  private async who(raw: string | undefined): Promise<string | undefined> {
    const s = raw?.trim();
    if (!s) return undefined;
    if (s.length > 320 || CONTROL.test(s)) throw new AppError('validation_failed', t('staff.audit.bad_account'));
    const account =
      (await findAccountByIdentifier(this.d.db, s)) ?? (s.length <= 64 ? await findAccount(this.d.db, s) : undefined);
    // An unknown name filters to nothing rather than being ignored.
    return account?.id ?? `unknown:${s}`;
  }

  async filter(input: AuditFilterInput): Promise<AuditFilter> {
    const f: AuditFilter = {};
    f.accountId = await this.who(input.account);
    f.actorId = await this.who(input.actor);
    const ev = input.event?.trim();
    if (ev) {
      if (!EVENT.test(ev))
        throw new AppError('validation_failed', undefined, {
          fields: [{ field: 'event', code: 'event', message: t('staff.audit.bad_event') }],
        });
      if (ev.endsWith('*')) f.eventPrefix = ev.slice(0, -1);
      else f.event = ev;
    }
    f.from = time(input.from, 'from');
    f.to = time(input.to, 'to');
    return f;
  }

  private query(f: AuditFilter, after?: { at: number; id: string }) {
    let q = this.d.db
      .selectFrom('audit_log')
      .leftJoin('accounts as actor', 'actor.id', 'audit_log.actor_id')
      .select([
        'audit_log.id',
        'audit_log.at',
        'audit_log.event',
        'audit_log.account_id',
        'audit_log.actor_id',
        'actor.username as actor',
        'audit_log.ip',
        'audit_log.user_agent',
        'audit_log.details',
      ]);
    if (f.accountId) q = q.where('audit_log.account_id', '=', f.accountId);
    if (f.actorId) q = q.where('audit_log.actor_id', '=', f.actorId);
    if (f.event) q = q.where('audit_log.event', '=', f.event);
    if (f.eventPrefix)
      q = q.where('audit_log.event', '>=', f.eventPrefix).where('audit_log.event', '<', `${f.eventPrefix}\u{10ffff}`);
    if (f.from !== undefined) q = q.where('audit_log.at', '>=', f.from);
    if (f.to !== undefined) q = q.where('audit_log.at', '<=', f.to);
    if (after)
      q = q.where((eb) =>
        eb.or([
          eb('audit_log.at', '<', after.at),
          eb.and([eb('audit_log.at', '=', after.at), eb('audit_log.id', '<', after.id)]),
        ]),
      );
    return q.orderBy('audit_log.at', 'desc').orderBy('audit_log.id', 'desc');
  }

  /** Newest first, PAGE_SIZE at a time; `next` continues after the last one shown. */
  async page(f: AuditFilter, cursor?: string): Promise<{ rows: AuditView[]; next: string | null }> {
    const after = parseCursor(cursor);
    const rows = await this.query(f, after)
      .limit(PAGE_SIZE + 1)
      .execute();
    const more = rows.length > PAGE_SIZE;
    const shown = rows.slice(0, PAGE_SIZE);
    const last = shown[shown.length - 1];
    return { rows: shown.map(auditView), next: more && last ? `${Number(last.at)}.${last.id}` : null };
  }

  /** Every matching record, newest first, read in batches so an export of millions holds a batch in memory. */
  async *all(f: AuditFilter): AsyncGenerator<AuditView> {
    let after: { at: number; id: string } | undefined;
    for (;;) {
      const rows = await this.query(f, after).limit(EXPORT_BATCH).execute();
      for (const r of rows) yield auditView(r);
      if (rows.length < EXPORT_BATCH) return;
      const last = rows[rows.length - 1];
      after = { at: Number(last.at), id: last.id };
    }
  }
}

function parseCursor(raw: string | undefined): { at: number; id: string } | undefined {
  if (!raw) return undefined;
  const m = /^(\d{1,16})\.([A-Za-z0-9_-]{1,64})$/.exec(raw);
  if (!m) throw new AppError('validation_failed', t('staff.audit.bad_cursor'));
  return { at: Number(m[1]), id: m[2] };
}

export const CSV_COLUMNS = ['at', 'event', 'accountId', 'actorId', 'actor', 'ip', 'userAgent', 'details'] as const;

/**
 * One CSV cell (RFC 4180). A cell a spreadsheet would read as a formula (=, +, -, @, tab, CR at
 * its start) gets a leading apostrophe, so an attacker-chosen user agent cannot run as one.
 */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(row: AuditView): string {
  return `${CSV_COLUMNS.map((c) => csvCell(row[c])).join(',')}\r\n`;
}
