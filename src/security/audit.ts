import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { RequestContext } from '../context.ts';
import { insertAuditRow } from '../store/audit.ts';
import type { Database } from '../store/schema.ts';
import type { Clock } from './clock.ts';
import { newId, type Random } from './random.ts';

// Append-only audit trail (LOG-01). Never a password, token, code or session id (LOG-02): keys
// that name a secret are refused outright, and user-controlled strings are cleaned of control
// characters so a crafted user agent cannot forge lines in a log viewer.

const SECRET_KEY = /pass|token|code|secret|session|cookie|otp|captcha/i;

export function cleanText(value: string | null | undefined, max = 256): string | null {
  if (value == null) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').slice(0, max);
}

export type AuditDetails = Record<string, string | number | boolean | null>;

export class Audit {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly log: Logger,
  ) {}

  async record(
    event: string,
    ctx: RequestContext,
    opts: { accountId?: string | null; actorId?: string | null; details?: AuditDetails } = {},
    db: Kysely<Database> = this.db,
  ): Promise<void> {
    const details: AuditDetails = {};
    for (const [k, v] of Object.entries(opts.details ?? {})) {
      if (SECRET_KEY.test(k)) throw new Error(`audit detail "${k}" looks like a secret (LOG-02)`);
      details[k] = typeof v === 'string' ? cleanText(v) : v;
    }
    const row = {
      id: newId(this.random),
      at: this.clock.now(),
      event,
      account_id: opts.accountId ?? null,
      actor_id: opts.actorId ?? null,
      ip: cleanText(ctx.ip, 64),
      user_agent: cleanText(ctx.userAgent),
      correlation_id: cleanText(ctx.correlationId, 64),
      details: Object.keys(details).length ? JSON.stringify(details) : null,
    };
    await insertAuditRow(db, row);
    this.log.info(
      {
        audit: event,
        accountId: row.account_id,
        actorId: row.actor_id,
        ip: row.ip,
        reqId: row.correlation_id,
        details,
      },
      `audit ${event}`,
    );
  }
}
