import type { Kysely } from 'kysely';
import type { Clock } from '../security/clock.ts';
import { newId, type Random } from '../security/random.ts';
import { insertOutbox } from '../store/outbox.ts';
import type { Database } from '../store/schema.ts';

// Every side effect leaves through here (DESIGN principle 4). A flow writes the message in the
// same transaction as its state change; the worker delivers it later with retries. A crash or a
// mail-server outage delays a message and never loses it, and the HTTP response never waits.

export interface OutgoingMessage {
  channel: 'email' | 'sms';
  /** template name, for metrics and the dev mailbox */
  kind: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** SMS: the sender id for this message instead of the configured one (an organization's brand) */
  from?: string;
}

export interface OutgoingJob {
  kind: string;
  payload: Record<string, unknown>;
  /** shown in the job row instead of a recipient; never a secret */
  label?: string;
  /** not before this time (epoch ms); default: at once */
  dueAt?: number;
}

export class Outbox {
  private listeners: (() => void)[] = [];
  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  async send(db: Kysely<Database>, msg: OutgoingMessage): Promise<void> {
    const row = {
      id: newId(this.random),
      channel: msg.channel,
      kind: msg.kind,
      recipient: msg.to,
      subject: msg.subject,
      body_text: msg.text,
      body_html: msg.html ?? '',
      payload: msg.from ? JSON.stringify({ from: msg.from }) : null,
    };
    await insertOutbox(db, row, this.clock.now());
    this.nudge();
  }

  /** Queues background work that must survive a crash (e.g. a reset request's token write). */
  async job(db: Kysely<Database>, job: OutgoingJob): Promise<void> {
    const row = {
      id: newId(this.random),
      channel: 'job',
      kind: job.kind,
      recipient: job.label ?? '',
      subject: '',
      body_text: '',
      body_html: '',
      payload: JSON.stringify(job.payload),
    };
    await insertOutbox(db, row, this.clock.now(), job.dueAt);
    this.nudge();
  }

  /** Tells an in-process worker that something is due, so delivery does not wait for the poll. */
  nudge(): void {
    for (const l of this.listeners) l();
  }

  onNudge(listener: () => void): void {
    this.listeners.push(listener);
  }
}
