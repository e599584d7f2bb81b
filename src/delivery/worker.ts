import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { cleanText } from '../security/audit.ts';
import type { Clock } from '../security/clock.ts';
import type { Engine } from '../store/db.ts';
import { claimDueOutbox, finishOutbox, type OutboxRow, retryOutboxLater } from '../store/outbox.ts';
import type { Database } from '../store/schema.ts';
import type { Outbox } from './outbox.ts';

export type { OutboxRow };

/** Delivers one message on one channel; throws to ask for a retry. */
export interface Transport {
  deliver(row: OutboxRow): Promise<void>;
}

export type JobHandler = (payload: Record<string, unknown>, row: OutboxRow) => Promise<void>;

export interface WorkerOptions {
  pollMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  /** how long a claimed row stays ours before another worker may take it over */
  leaseMs: number;
  batch?: number;
  workerId: string;
}

const MAX_BACKOFF = 3_600_000;

export class DeliveryWorker {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  /** polling is off until start() and after stop() */
  private stopped = true;
  /** stop() was called: a drain in progress ends after its batch (graceful shutdown) */
  private stopping = false;
  private readonly transports = new Map<string, Transport>();
  private readonly jobs = new Map<string, JobHandler>();
  onDelivered?: (row: OutboxRow) => void;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: Engine,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: WorkerOptions,
    outbox: Outbox,
  ) {
    outbox.onNudge(() => this.kick());
  }

  setTransport(channel: string, transport: Transport): void {
    this.transports.set(channel, transport);
  }

  registerJob(kind: string, handler: JobHandler): void {
    this.jobs.set(kind, handler);
  }

  start(): void {
    this.stopped = false;
    this.stopping = false;
    this.schedule();
  }

  /** Stops polling and waits for the batch in hand to finish (graceful shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), this.opts.pollMs);
    this.timer.unref?.();
  }

  /** Runs a pass now (or right after the one in progress). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .then(() => undefined)
      .catch((err) => this.log.error({ err }, 'outbox pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          setImmediate(() => this.kick());
        } else this.schedule();
      });
  }

  /** Delivers everything due now; returns when nothing due is left. Tests call it directly. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.claim();
      if (rows.length === 0) return total;
      await Promise.all(rows.map((r) => this.process(r)));
      total += rows.length;
      if (this.stopping) return total;
      // On SQLite every query is synchronous, so a backlog of jobs that touch only the database
      // would drain in one unbroken chain of microtasks and starve HTTP until it is empty. Give
      // the event loop a turn between batches: the response must never wait on the outbox.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  private claim(): Promise<OutboxRow[]> {
    const claim = {
      now: this.clock.now(),
      workerId: this.opts.workerId,
      leaseMs: this.opts.leaseMs,
      limit: this.opts.batch ?? 10,
    };
    return claimDueOutbox(this.db, this.engine, claim);
  }

  private async process(row: OutboxRow): Promise<void> {
    try {
      if (row.channel === 'job') {
        const handler = this.jobs.get(row.kind);
        if (!handler) throw new Error(`no handler for job ${row.kind}`);
        await handler(JSON.parse(row.payload ?? '{}') as Record<string, unknown>, row);
      } else {
        const transport = this.transports.get(row.channel);
        if (!transport) throw new Error(`no transport for ${row.channel}`);
        await transport.deliver(row);
      }
      await this.finish(row, 'sent', null);
      this.onDelivered?.(row);
    } catch (err) {
      const message = cleanText((err as Error)?.message ?? String(err), 500);
      if (row.attempts >= this.opts.maxAttempts) {
        this.log.error({ outboxId: row.id, kind: row.kind, err: message }, 'outbox message given up');
        await this.finish(row, 'failed', message);
        return;
      }
      const delay = Math.min(this.opts.backoffBaseMs * 2 ** (row.attempts - 1), MAX_BACKOFF);
      this.log.warn(
        { outboxId: row.id, kind: row.kind, attempt: row.attempts, retryInMs: delay, err: message },
        'outbox delivery failed',
      );
      await retryOutboxLater(this.db, row.id, this.opts.workerId, this.clock.now() + delay, message);
    }
  }

  /** Marks the row done and scrubs its body: a delivered reset mail's token is not kept (principle 5). */
  private async finish(row: OutboxRow, status: 'sent' | 'failed', error: string | null): Promise<void> {
    await finishOutbox(this.db, row.id, status, this.clock.now(), error);
  }
}
