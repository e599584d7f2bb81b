import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { findAccount } from '../../store/accounts.ts';
import {
  addReviewNote,
  assignReviewItem,
  countOpenByKind,
  findReviewItem,
  isReviewKind,
  isReviewOutcome,
  listReviewItems,
  REVIEW_KINDS,
  REVIEW_OUTCOMES,
  type ReviewFilter,
  type ReviewItem,
  type ReviewKind,
  type ReviewOutcome,
  resolveReviewItem,
  reviewNotes,
} from '../../store/review-items.ts';
import { findSupportRequest } from '../../store/support-requests.ts';
import type { StaffGuard, Viewer } from '../staff/guard.ts';
import { ROLE_NAME } from '../staff/roles.ts';
import type { SupportService, SupportStatus } from '../support/service.ts';

/** What this module uses of the container the composition root builds. */
export type ReviewDeps = Pick<Kernel, 'db' | 'clock' | 'random' | 'audit'> & {
  staffGuard: StaffGuard;
  support: SupportService;
};

export const NOTE_MAX = 2000;
/** How far before an item was opened its account's activity is shown */
export const CONTEXT_BEFORE_MS = 24 * 3600_000;
const ACTIVITY_LIMIT = 30;

/** Ages the queue can be filtered by (opened at least this long ago). */
export const AGE_FILTERS: Record<string, number> = { '1h': 3600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };

export interface QueueQuery {
  kind?: string;
  org?: string;
  age?: string;
  resolved?: boolean;
}

export interface QueueEntry {
  id: string;
  kind: ReviewKind;
  kindLabel: string;
  reason: string;
  openedAt: number;
  account: { id: string; username: string } | null;
  orgId: string | null;
  assignedTo: string | null;
  resolvedAt: number | null;
  outcome: string | null;
}

export interface QueueItemDetail extends QueueEntry {
  details: Record<string, unknown>;
  account: { id: string; username: string; status: string; flaggedAt: number | null } | null;
  notes: { id: string; author: string | null; body: string; at: number }[];
  /** the account's audit trail from a day before the item was opened, newest first */
  activity: { at: number; event: string; ip: string | null; actor: string | null }[];
  request: (SupportStatus & { identifier: string; contact: string }) | null;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const cleanBody = (s: string) => s.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');

/**
 * The staff review queue (LOG-04 and the other reasons an account needs a human look). Every
 * operation goes through the staff guard first (ADM-05); an organization's owners and admins see
 * and work only the items of their organization's accounts.
 */
export class ReviewService {
  constructor(private readonly d: ReviewDeps) {}

  private orgFilter(v: Viewer, org?: string): Pick<ReviewFilter, 'orgIds' | 'orgId'> {
    const scope = this.d.staffGuard.orgScope(v);
    return { orgIds: scope ?? undefined, orgId: org || undefined };
  }

  private filterOf(v: Viewer, q: QueueQuery): ReviewFilter {
    if (q.kind && !isReviewKind(q.kind))
      throw new AppError('validation_failed', undefined, {
        fields: [
          {
            field: 'kind',
            code: 'invalid',
            message: t('review.bad_kind', { kinds: Object.keys(REVIEW_KINDS).join(', ') }),
          },
        ],
      });
    if (q.age && !Object.hasOwn(AGE_FILTERS, q.age))
      throw new AppError('validation_failed', undefined, {
        fields: [
          {
            field: 'age',
            code: 'invalid',
            message: t('review.bad_age', { ages: Object.keys(AGE_FILTERS).join(', ') }),
          },
        ],
      });
    return {
      ...this.orgFilter(v, q.org),
      kind: (q.kind || undefined) as ReviewKind | undefined,
      minAgeMs: q.age ? AGE_FILTERS[q.age] : undefined,
      resolved: q.resolved,
      now: this.d.clock.now(),
      limit: 200,
    };
  }

  /** The organizations the viewer may filter by: every one for staff, their own otherwise. */
  async orgChoices(v: Viewer): Promise<{ id: string; name: string }[]> {
    const scope = this.d.staffGuard.orgScope(v);
    if (scope && !scope.length) return [];
    let q = this.d.db.selectFrom('organizations').select(['id', 'display_name as name']).orderBy('display_name');
    if (scope) q = q.where('id', 'in', scope);
    return q.limit(500).execute();
  }

  /** The queue the viewer may see, oldest first, and the open count per kind. */
  async list(v: Viewer, q: QueueQuery): Promise<{ counts: Record<ReviewKind, number>; items: QueueEntry[] }> {
    const filter = this.filterOf(v, q);
    const [items, counts] = await Promise.all([
      listReviewItems(this.d.db, filter),
      countOpenByKind(this.d.db, { ...this.orgFilter(v, q.org), now: filter.now }),
    ]);
    const names = await this.usernames(items.flatMap((i) => [i.account_id, i.assigned_to]));
    return { counts, items: items.map((i) => this.entry(i, names)) };
  }

  private async usernames(ids: (string | null)[]): Promise<Map<string, string>> {
    const wanted = [...new Set(ids.filter((x): x is string => Boolean(x)))];
    if (!wanted.length) return new Map();
    const rows = await this.d.db.selectFrom('accounts').select(['id', 'username']).where('id', 'in', wanted).execute();
    return new Map(rows.map((r) => [r.id, r.username]));
  }

  private entry(i: ReviewItem, names: Map<string, string>): QueueEntry {
    const kind = isReviewKind(i.kind) ? i.kind : 'support_request';
    return {
      id: i.id,
      kind,
      kindLabel: t(REVIEW_KINDS[kind]),
      reason: i.reason,
      openedAt: Number(i.opened_at),
      account: i.account_id ? { id: i.account_id, username: names.get(i.account_id) ?? t('review.deleted') } : null,
      orgId: i.org_id,
      assignedTo: i.assigned_to ? (names.get(i.assigned_to) ?? t('review.unknown')) : null,
      resolvedAt: i.resolved_at === null ? null : Number(i.resolved_at),
      outcome: i.outcome,
    };
  }

  /**
   * The item, if the viewer may work it with `cap`: 404 when there is none; an audited 403 when
   * it is about an account outside the viewer's organizations, or about no account at all and
   * the viewer is not the install's staff (ADM-05).
   */
  private async itemFor(v: Viewer, id: string, cap: 'read' | 'assist', ctx: RequestContext, action: string) {
    const item = id.length <= 64 ? await findReviewItem(this.d.db, id) : undefined;
    if (!item) throw new AppError('not_found', t('review.no_item'));
    if (item.account_id) {
      // The guard decides for accounts: scope, and staff accounts only for staff.
      if (await findAccount(this.d.db, item.account_id))
        await this.d.staffGuard.account(v, item.account_id, cap, ctx, action);
      else if (!v.staffRole) await this.refuse(v, ctx, action, item);
    } else if (!v.staffRole) await this.refuse(v, ctx, action, item);
    return item;
  }

  private async refuse(v: Viewer, ctx: RequestContext, action: string, item: ReviewItem): Promise<never> {
    await this.d.audit.record('admin.forbidden', ctx, {
      actorId: v.auth.account.id,
      accountId: item.account_id,
      details: { action },
    });
    throw new AppError('forbidden');
  }

  async detail(v: Viewer, id: string, ctx: RequestContext): Promise<QueueItemDetail> {
    const d = this.d;
    const item = await this.itemFor(v, id, 'read', ctx, 'queue.view');
    const account = item.account_id ? await findAccount(d.db, item.account_id) : undefined;
    const [notes, activity, request] = await Promise.all([
      reviewNotes(d.db, item.id),
      item.account_id
        ? d.db
            .selectFrom('audit_log')
            .leftJoin('accounts', 'accounts.id', 'audit_log.actor_id')
            .select(['audit_log.at', 'audit_log.event', 'audit_log.ip', 'accounts.username as actor'])
            .where('audit_log.account_id', '=', item.account_id)
            .where('audit_log.at', '>=', Number(item.opened_at) - CONTEXT_BEFORE_MS)
            .orderBy('audit_log.at', 'desc')
            .limit(ACTIVITY_LIMIT)
            .execute()
        : [],
      item.kind === 'support_request' ? findSupportRequest(d.db, item.subject) : undefined,
    ]);
    const names = await this.usernames([item.account_id, item.assigned_to]);
    const base = this.entry(item, names);
    return {
      ...base,
      details: item.details ? (JSON.parse(item.details) as Record<string, unknown>) : {},
      account: account
        ? {
            id: account.id,
            username: account.username,
            status: account.status,
            flaggedAt: account.flagged_at === null ? null : Number(account.flagged_at),
          }
        : null,
      notes: notes.map((n) => ({ id: n.id, author: n.author, body: n.body, at: Number(n.created_at) })),
      activity: activity.map((a) => ({ at: Number(a.at), event: a.event, ip: a.ip, actor: a.actor })),
      request: request
        ? {
            ...(await d.support.status(request.id, d.support.signature(request.id))),
            identifier: request.identifier,
            contact: request.contact,
          }
        : null,
    };
  }

  async assign(v: Viewer, id: string, ctx: RequestContext): Promise<void> {
    const item = await this.itemFor(v, id, 'assist', ctx, 'queue.assign');
    if (!(await assignReviewItem(this.d.db, item.id, v.auth.account.id, this.d.clock.now())))
      throw new AppError('conflict', t('review.already_resolved'));
    await this.record('review.assigned', v, item, ctx, {});
  }

  async note(v: Viewer, id: string, raw: unknown, ctx: RequestContext): Promise<void> {
    const body = cleanBody(str(raw)).trim();
    if (!body || body.length > NOTE_MAX)
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'body', code: 'invalid', message: t('review.note_needed', { max: NOTE_MAX }) }],
      });
    const item = await this.itemFor(v, id, 'assist', ctx, 'queue.note');
    await this.d.db.transaction().execute(async (trx) => {
      await addReviewNote(this.d, item.id, v.auth.account.id, body, trx);
      // The note's text stays in the queue; the audit trail records that one was written.
      await this.record('review.noted', v, item, ctx, {}, trx);
    });
  }

  /** Resolves the item with an outcome and the written reason (kept as a note and in the audit trail). */
  async resolve(v: Viewer, id: string, rawOutcome: unknown, reason: string, ctx: RequestContext): Promise<void> {
    const d = this.d;
    const outcome = str(rawOutcome);
    if (!isReviewOutcome(outcome))
      throw new AppError('validation_failed', undefined, {
        fields: [
          {
            field: 'outcome',
            code: 'invalid',
            message: t('review.choose_outcome', { outcomes: Object.keys(REVIEW_OUTCOMES).join(', ') }),
          },
        ],
      });
    const item = await this.itemFor(v, id, 'assist', ctx, 'queue.resolve');
    const now = d.clock.now();
    await d.db.transaction().execute(async (trx) => {
      if (!(await resolveReviewItem(trx, item.id, v.auth.account.id, outcome as ReviewOutcome, now)))
        throw new AppError('conflict', t('review.already_resolved'));
      await addReviewNote(d, item.id, v.auth.account.id, `Resolved (${outcome}): ${reason}`, trx);
      // A reviewed flag is cleared, so repeated resets after this can flag the account again (LOG-04).
      if (item.kind === 'flagged_resets' && item.account_id)
        await trx
          .updateTable('accounts')
          .set({ flagged_at: null, flag_reason: null, updated_at: now })
          .where('id', '=', item.account_id)
          .execute();
      if (item.kind === 'support_request') await d.support.close(item.subject, trx);
      await this.record('review.resolved', v, item, ctx, { outcome, reason }, trx);
    });
  }

  /** A reply to the support request behind the item, mailed to its contact address (ADM-08). */
  async reply(v: Viewer, id: string, body: unknown, ctx: RequestContext): Promise<void> {
    const d = this.d;
    const item = await this.itemFor(v, id, 'assist', ctx, 'queue.reply');
    if (item.kind !== 'support_request') throw new AppError('conflict', t('review.not_a_request'));
    if (item.resolved_at !== null) throw new AppError('conflict', t('review.request_closed'));
    const role = d.staffGuard.roleOf(v, item.org_id ?? undefined);
    await d.db.transaction().execute(async (trx) => {
      await d.support.reply(
        item.subject,
        { id: v.auth.account.id, role: role ? ROLE_NAME[role] : '' },
        str(body),
        ctx,
        trx,
      );
      // Whoever answers first owns the item.
      if (!item.assigned_to) await assignReviewItem(trx, item.id, v.auth.account.id, d.clock.now());
    });
  }

  private async record(
    event: string,
    v: Viewer,
    item: ReviewItem,
    ctx: RequestContext,
    details: Record<string, string>,
    db = this.d.db,
  ): Promise<void> {
    const role = this.d.staffGuard.roleOf(v, item.org_id ?? undefined);
    await this.d.audit.record(
      event,
      ctx,
      {
        accountId: item.account_id,
        actorId: v.auth.account.id,
        details: { item: item.id, kind: item.kind, role: role ? ROLE_NAME[role] : null, ...details },
      },
      db,
    );
  }
}
