import type { ExpressionBuilder, Kysely, QueryCreator, Selectable } from 'kysely';
import type { Engine } from './db.ts';
import type { Database, OutboxTable } from './schema.ts';

// The outbox table: messages and jobs written in a flow's transaction, claimed and delivered
// later by the worker (src/delivery/). Retry policy and transports live there; this is the SQL.

export type OutboxRow = Selectable<OutboxTable>;

/** What a caller says about a new row; status, attempts and lease start empty. */
export type NewOutboxRow = Pick<
  OutboxRow,
  'id' | 'channel' | 'kind' | 'recipient' | 'subject' | 'body_text' | 'body_html' | 'payload'
>;

/** Queues a row, due at once (or at `dueAt`, for work that must wait, e.g. a deletion's grace period). */
export async function insertOutbox(
  db: Kysely<Database>,
  row: NewOutboxRow,
  now: number,
  dueAt: number = now,
): Promise<void> {
  await db
    .insertInto('outbox')
    .values({
      ...row,
      status: 'pending',
      attempts: 0,
      next_attempt_at: dueAt,
      locked_by: null,
      locked_until: null,
      last_error: null,
      created_at: now,
      sent_at: null,
    })
    .execute();
}

export interface Claim {
  now: number;
  workerId: string;
  /** the lease runs until now + leaseMs; after that another worker may take the row over */
  leaseMs: number;
  limit: number;
}

/**
 * Leases up to `limit` pending rows due at `now` and not held by a live lease to `workerId`,
 * oldest due first, counting an attempt on each; returns them as claimed. No row goes to two
 * claimants at once, across processes too.
 */
export async function claimDueOutbox(db: Kysely<Database>, engine: Engine, c: Claim): Promise<OutboxRow[]> {
  const { now } = c;
  // Not held by a live lease: never claimed, or its worker's lease ran out.
  const free = (eb: ExpressionBuilder<Database, 'outbox'>) =>
    eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]);
  const due = (q: QueryCreator<Database>) =>
    q
      .selectFrom('outbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where(free)
      .orderBy('next_attempt_at')
      .limit(c.limit);
  const lease = { locked_by: c.workerId, locked_until: now + c.leaseMs };
  if (engine === 'postgres') {
    // Several processes claim at once: SKIP LOCKED hands each row to one of them. The due rows
    // are picked once, in a MATERIALIZED CTE: inside `id IN (subquery)` PostgreSQL may plan a
    // nested-loop semi-join that runs the subquery again for every outer row, each run picking
    // other rows past the locks, so one claim took up to the whole backlog (110 of 120 rows with
    // a batch of 10) — more than one lease may cover, after which another worker takes the
    // rows over and sends them again.
    return db
      .with(
        (cte) => cte('due').materialized(),
        (q) => due(q).forUpdate().skipLocked(),
      )
      .updateTable('outbox')
      .set({ ...lease, attempts: (eb) => eb('attempts', '+', 1) })
      .where('id', 'in', (eb) => eb.selectFrom('due').select('id'))
      .where('status', '=', 'pending')
      .returningAll()
      .execute();
  }
  // SQLite: read first, and write only when something is due. An idle poll that UPDATEs takes
  // the write lock and counts as a write, which makes the session check forget the rows it
  // remembers (Store.preparedRead) on every poll. Another process may claim between the read
  // and the write; the UPDATE checks again that each row is still free, and SQLite runs one
  // writer at a time, so no row is claimed twice.
  const ids = (await due(db).execute()).map((r) => r.id);
  if (ids.length === 0) return [];
  return db
    .updateTable('outbox')
    .set({ ...lease, attempts: (eb) => eb('attempts', '+', 1) })
    .where('id', 'in', ids)
    .where('status', '=', 'pending')
    .where(free)
    .returningAll()
    .execute();
}

/** Releases a row `workerId` holds, to be tried again at `nextAttemptAt`; a lost lease changes nothing. */
export async function retryOutboxLater(
  db: Kysely<Database>,
  id: string,
  workerId: string,
  nextAttemptAt: number,
  error: string | null,
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ next_attempt_at: nextAttemptAt, locked_by: null, locked_until: null, last_error: error })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .execute();
}

/**
 * Marks a row sent (at `now`) or failed for good, releases it and scrubs its body and payload:
 * a delivered reset mail's token is not kept (principle 5).
 */
export async function finishOutbox(
  db: Kysely<Database>,
  id: string,
  status: 'sent' | 'failed',
  now: number,
  error: string | null,
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({
      status,
      sent_at: status === 'sent' ? now : null,
      body_text: '',
      body_html: '',
      payload: null,
      locked_by: null,
      locked_until: null,
      last_error: error,
    })
    .where('id', '=', id)
    .execute();
}

/** Pending rows per channel (the outbox depth metric); a channel with none is absent. */
export async function pendingOutboxByChannel(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('outbox')
    .select(['channel', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', '=', 'pending')
    .groupBy('channel')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.channel, Number(r.n)]));
}
