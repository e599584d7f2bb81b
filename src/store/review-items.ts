import type { Kysely, Selectable } from 'kysely';
import type { Kernel } from '../kernel.ts';
import { newId } from '../security/random.ts';
import type { Database, ReviewItemsTable, ReviewNotesTable } from './schema.ts';

// The staff review queue: why an account (or a support request) needs a human look. Flows open
// items with `openReviewItem`; staff work them in the console (src/flows/review).

export type ReviewItem = Selectable<ReviewItemsTable>;
export type ReviewNote = Selectable<ReviewNotesTable>;

/**
 * Every reason an item is opened, in the order the console lists the counts, with the catalog
 * key of its label (src/flows/review/messages): `t(REVIEW_KINDS[kind])` in the reader's language.
 */
export const REVIEW_KINDS = {
  flagged_resets: 'review.kind.flagged_resets',
  lockout_hard_cap: 'review.kind.lockout_hard_cap',
  passkey_counter: 'review.kind.passkey_counter',
  qr_reported: 'review.kind.qr_reported',
  support_request: 'review.kind.support_request',
} as const;
export type ReviewKind = keyof typeof REVIEW_KINDS;
export const isReviewKind = (k: string): k is ReviewKind => Object.hasOwn(REVIEW_KINDS, k);

/** What staff may record when they resolve an item, with the catalog key of its label. */
export const REVIEW_OUTCOMES = {
  legitimate: 'review.outcome.legitimate',
  secured: 'review.outcome.secured',
  disabled: 'review.outcome.disabled',
  answered: 'review.outcome.answered',
  spam: 'review.outcome.spam',
  duplicate: 'review.outcome.duplicate',
} as const;
export type ReviewOutcome = keyof typeof REVIEW_OUTCOMES;
export const isReviewOutcome = (k: string): k is ReviewOutcome => Object.hasOwn(REVIEW_OUTCOMES, k);

export type ReviewDetails = Record<string, string | number | boolean | null>;

export interface OpenReviewInput {
  kind: ReviewKind;
  /** the account concerned; null for a support request naming no account */
  accountId: string | null;
  /** why, in a sentence staff read in the queue; never a secret */
  reason: string;
  details?: ReviewDetails;
  /** what the item is about when it is not the account itself (a support request id) */
  subject?: string;
}

/** What opening an item needs of the container. */
export type OpenReviewDeps = Pick<Kernel, 'db' | 'clock' | 'random'>;

/**
 * Opens a review item, unless one of the same kind is already open for the same subject (the
 * account, or `subject`): then nothing changes and it returns null. One call from any flow, e.g.
 *   await openReviewItem(d, { kind: 'passkey_counter', accountId, reason: 'counter went backwards' });
 * Pass the transaction as `db` to open it with the change that caused it.
 */
export async function openReviewItem(
  d: OpenReviewDeps,
  input: OpenReviewInput,
  db: Kysely<Database> = d.db,
): Promise<string | null> {
  const subject = input.subject ?? input.accountId;
  if (!subject) throw new Error('a review item needs an account or a subject');
  const org = input.accountId
    ? await db.selectFrom('accounts').select('org_id').where('id', '=', input.accountId).executeTakeFirst()
    : undefined;
  const id = newId(d.random);
  const r = await db
    .insertInto('review_items')
    .values({
      id,
      kind: input.kind,
      account_id: input.accountId,
      org_id: org?.org_id ?? null,
      subject,
      open_key: `${input.kind}:${subject}`,
      reason: input.reason.slice(0, 500),
      details: input.details && Object.keys(input.details).length ? JSON.stringify(input.details) : null,
      opened_at: d.clock.now(),
    })
    .onConflict((oc) => oc.column('open_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return r?.id ?? null;
}

export interface ReviewFilter {
  kind?: ReviewKind;
  /** only items of accounts in these organizations (an organization admin's scope) */
  orgIds?: readonly string[];
  /** only this organization (a filter staff pick) */
  orgId?: string;
  /** only items opened at least this long ago, ms */
  minAgeMs?: number;
  /** open items (default), or resolved ones */
  resolved?: boolean;
  limit?: number;
  /** now, for the age filter */
  now: number;
}

function scoped(db: Kysely<Database>, f: Omit<ReviewFilter, 'limit' | 'kind' | 'minAgeMs'> & { minAgeMs?: number }) {
  let q = db.selectFrom('review_items').where('resolved_at', f.resolved ? 'is not' : 'is', null);
  if (f.orgIds)
    q = f.orgIds.length
      ? q.where('org_id', 'in', f.orgIds)
      : q.where('org_id', 'is', null).where('org_id', 'is not', null);
  if (f.orgId) q = q.where('org_id', '=', f.orgId);
  if (f.minAgeMs) q = q.where('opened_at', '<=', f.now - f.minAgeMs);
  return q;
}

/** The queue, oldest first (resolved items: latest resolved first). */
export function listReviewItems(db: Kysely<Database>, f: ReviewFilter): Promise<ReviewItem[]> {
  let q = scoped(db, f).selectAll();
  if (f.kind) q = q.where('kind', '=', f.kind);
  q = f.resolved ? q.orderBy('resolved_at', 'desc') : q.orderBy('opened_at', 'asc').orderBy('id', 'asc');
  return q.limit(f.limit ?? 100).execute();
}

/** Open items per kind within the scope (every kind present, zero when none). */
export async function countOpenByKind(
  db: Kysely<Database>,
  f: Pick<ReviewFilter, 'orgIds' | 'orgId' | 'minAgeMs' | 'now'> = { now: 0 },
): Promise<Record<ReviewKind, number>> {
  const rows = await scoped(db, f)
    .select(['kind', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('kind')
    .execute();
  const out = Object.fromEntries(Object.keys(REVIEW_KINDS).map((k) => [k, 0])) as Record<ReviewKind, number>;
  for (const r of rows) if (isReviewKind(r.kind)) out[r.kind] = Number(r.n);
  return out;
}

export function findReviewItem(db: Kysely<Database>, id: string): Promise<ReviewItem | undefined> {
  return db.selectFrom('review_items').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The open item of this kind about `subject`, if any. */
export function findOpenReviewItem(db: Kysely<Database>, kind: ReviewKind, subject: string) {
  return db.selectFrom('review_items').selectAll().where('open_key', '=', `${kind}:${subject}`).executeTakeFirst();
}

/** Assigns an open item; false when it is resolved (or gone). */
export async function assignReviewItem(db: Kysely<Database>, id: string, staffId: string, now: number) {
  const r = await db
    .updateTable('review_items')
    .set({ assigned_to: staffId, assigned_at: now })
    .where('id', '=', id)
    .where('resolved_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Resolves an open item; false when someone resolved it first. */
export async function resolveReviewItem(
  db: Kysely<Database>,
  id: string,
  staffId: string,
  outcome: ReviewOutcome,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('review_items')
    .set({ resolved_at: now, resolved_by: staffId, outcome, open_key: null })
    .where('id', '=', id)
    .where('resolved_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Resolves the open item of this kind about `subject`, if there is one (e.g. the flag cleared from the account page). */
export async function resolveOpenReviewItem(
  db: Kysely<Database>,
  kind: ReviewKind,
  subject: string,
  staffId: string,
  outcome: ReviewOutcome,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('review_items')
    .set({ resolved_at: now, resolved_by: staffId, outcome, open_key: null })
    .where('open_key', '=', `${kind}:${subject}`)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function addReviewNote(
  d: OpenReviewDeps,
  itemId: string,
  authorId: string,
  body: string,
  db: Kysely<Database> = d.db,
): Promise<void> {
  await db
    .insertInto('review_notes')
    .values({ id: newId(d.random), item_id: itemId, author_id: authorId, body, created_at: d.clock.now() })
    .execute();
}

/** The item's notes with their authors' usernames, oldest first. */
export function reviewNotes(db: Kysely<Database>, itemId: string) {
  return db
    .selectFrom('review_notes')
    .leftJoin('accounts', 'accounts.id', 'review_notes.author_id')
    .select(['review_notes.id', 'review_notes.body', 'review_notes.created_at', 'accounts.username as author'])
    .where('review_notes.item_id', '=', itemId)
    .orderBy('review_notes.created_at', 'asc')
    .orderBy('review_notes.id', 'asc')
    .execute();
}
