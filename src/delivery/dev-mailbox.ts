import type { Kysely } from 'kysely';
import type { Clock } from '../security/clock.ts';
import { newId, type Random } from '../security/random.ts';
import { insertDevMail } from '../store/dev-mailbox.ts';
import type { Database } from '../store/schema.ts';
import type { OutboxRow, Transport } from './worker.ts';

/**
 * Development delivery: the message is kept in the dev_mailbox table and shown at /dev/mailbox,
 * so a newcomer sees the activation and reset mails without a mail server.
 */
export class DevMailboxTransport implements Transport {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  async deliver(row: OutboxRow): Promise<void> {
    await insertDevMail(this.db, {
      id: newId(this.random),
      channel: row.channel,
      recipient: row.recipient,
      subject: row.subject,
      body_text: row.body_text,
      body_html: row.body_html,
      created_at: this.clock.now(),
    });
  }
}
