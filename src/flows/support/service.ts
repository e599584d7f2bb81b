import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { renderMail } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { keyedHash, safeEqual } from '../../security/hashing.ts';
import { emailKey } from '../../security/identifiers.ts';
import { newCode, newId, UNAMBIGUOUS } from '../../security/random.ts';
import { findAccountByIdentifier, validEmail } from '../../store/accounts.ts';
import { openReviewItem } from '../../store/review-items.ts';
import type { Database } from '../../store/schema.ts';
import {
  addSupportMessage,
  findSupportRequest,
  insertSupportRequest,
  type SupportRequest,
  setSupportStatus,
  supportMessages,
} from '../../store/support-requests.ts';

/** What this module uses of the container the composition root builds. */
export type SupportDeps = Pick<
  Kernel,
  'config' | 'db' | 'clock' | 'random' | 'secret' | 'brand' | 'outbox' | 'worker' | 'audit' | 'guard' | 'captcha'
>;

export const MESSAGE_MAX = 4000;
const FILE_JOB = 'support.file';
const STATUS_PURPOSE = 'support-status';

export interface SupportRequestInput {
  identifier?: string;
  contact?: string;
  message?: string;
  captcha?: string;
}

export interface SupportStatus {
  ref: string;
  status: SupportRequest['status'];
  createdAt: number;
  messages: { from: 'you' | 'support'; body: string; at: number }[];
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** The language the request was filed in (its review item keeps it), or null: the install's default. */
async function filerLanguage(db: Kysely<Database>, requestId: string): Promise<string | null> {
  const row = await db
    .selectFrom('review_items')
    .select('details')
    .where('kind', '=', 'support_request')
    .where('subject', '=', requestId)
    .executeTakeFirst();
  try {
    const language = row?.details ? (JSON.parse(row.details) as { language?: unknown }).language : undefined;
    return typeof language === 'string' ? language : null;
  } catch {
    return null;
  }
}
// Control characters other than line breaks and tabs are dropped: the text is shown to staff and mailed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const cleanBody = (s: string) => s.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');

/**
 * "Contact support" (ADM-08). The answer to a request never depends on the account: the request
 * does the same work for every identifier (validation, limits per IP and contact address,
 * CAPTCHA, one job row), and the account lookup, the stored request, the review item and the
 * mail to the contact address happen in the job after the response. The contact address is
 * not verified, so the mail to it carries nothing about the account; the status page behind the
 * signed link shows only what the filer wrote and what staff replied.
 */
export class SupportService {
  constructor(private readonly d: SupportDeps) {
    d.worker.registerJob(FILE_JOB, (payload) => this.runFileJob(payload));
  }

  async file(input: SupportRequestInput, ctx: RequestContext): Promise<{ message: string }> {
    const d = this.d;
    const identifier = str(input.identifier).trim();
    const contact = str(input.contact).trim();
    const message = cleanBody(str(input.message)).trim();
    const fields: { field: string; code: string; message: string }[] = [];
    if (!identifier || identifier.length > 320)
      fields.push({ field: 'identifier', code: 'required', message: t('support.error.identifier') });
    if (!contact || contact.length > 320 || !validEmail(contact))
      fields.push({ field: 'contact', code: 'invalid', message: t('support.error.contact') });
    if (!message || message.length > MESSAGE_MAX)
      fields.push({
        field: 'message',
        code: message ? 'too_long' : 'required',
        message: message ? t('support.error.too_long', { max: MESSAGE_MAX }) : t('support.error.message'),
      });
    if (fields.length) throw new AppError('validation_failed', undefined, { fields });
    // Capped per IP and per contact address: every request mails that address.
    await d.guard.limit('support_request', ctx, `contact:${emailKey(contact)}`);
    if (!(await d.captcha.verify(input.captcha, ctx))) {
      await d.audit.record('captcha.failed', ctx, { details: { flow: 'support_request' } });
      throw new AppError(input.captcha ? 'captcha_invalid' : 'captcha_required');
    }
    await d.outbox.job(d.db, {
      kind: FILE_JOB,
      payload: {
        requestId: newId(d.random),
        identifier,
        contact,
        message,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        correlationId: ctx.correlationId,
        // The filer's language, for the mails to the contact address (theirs, not the account's).
        locale: currentLocale(),
      },
    });
    return { message: t('support.filed') };
  }

  private async runFileJob(payload: Record<string, unknown>): Promise<void> {
    const d = this.d;
    const id = str(payload.requestId);
    // A job re-run after a crash finds its request and sends nothing twice.
    if (!id || (await findSupportRequest(d.db, id))) return;
    const ctx: RequestContext = {
      ip: str(payload.ip),
      userAgent: str(payload.userAgent),
      correlationId: str(payload.correlationId),
    };
    const identifier = str(payload.identifier);
    const contact = str(payload.contact);
    const account = await findAccountByIdentifier(d.db, identifier);
    // One group, unlike the XXXX-XXXX shape of reset codes, so it never reads (or scans) as one.
    const ref = `SR-${newCode(d.random, UNAMBIGUOUS, 8)}`;
    const now = d.clock.now();
    await d.db.transaction().execute(async (trx) => {
      await insertSupportRequest(trx, {
        id,
        ref,
        identifier: identifier.slice(0, 320),
        account_id: account?.id ?? null,
        org_id: account?.org_id ?? null,
        contact,
        status: 'open',
        ip: ctx.ip.slice(0, 64) || null,
        user_agent: ctx.userAgent.slice(0, 256) || null,
        created_at: now,
        updated_at: now,
      });
      await addSupportMessage(trx, {
        id: newId(d.random),
        request_id: id,
        author: 'user',
        staff_id: null,
        body: str(payload.message).slice(0, MESSAGE_MAX),
        created_at: now,
      });
      await openReviewItem(
        d,
        {
          kind: 'support_request',
          accountId: account?.id ?? null,
          subject: id,
          reason: account
            ? `Support request ${ref} about this account`
            : `Support request ${ref}: no account matches the identifier given`,
          details: { ref, accountFound: Boolean(account), language: str(payload.locale) || null },
        },
        trx,
      );
      await d.audit.record(
        'support.requested',
        ctx,
        { accountId: account?.id ?? null, details: { ref, accountFound: Boolean(account) } },
        trx,
      );
      // In the language the filer used, never the account's: the contact address is not verified.
      const mail = withLocale(str(payload.locale) || null, () =>
        renderMail(d.brand, {
          subject: t('support.mail.received_subject', { ref }),
          title: t('support.mail.received_title'),
          lines: [t('support.mail.received_ref', { ref }), t('support.mail.received_answer')],
          action: { label: t('support.mail.follow'), url: this.statusUrl(id) },
          after: [t('support.mail.received_after')],
        }),
      );
      await d.outbox.send(trx, { channel: 'email', kind: 'support_received', to: contact, ...mail });
    });
  }

  /** The signature of the status link: a keyed hash of the request id only, no account data. */
  signature(requestId: string): string {
    return keyedHash(this.d.secret, STATUS_PURPOSE, requestId);
  }

  statusPath(requestId: string): string {
    return `/support/requests/${encodeURIComponent(requestId)}?sig=${this.signature(requestId)}`;
  }

  statusUrl(requestId: string): string {
    return `${this.d.config.publicUrl}${this.statusPath(requestId)}`;
  }

  /**
   * The request behind a status link. Unknown request, wrong or missing signature all answer
   * the same `not_found`, so the link is the only key to it (ADM-08).
   */
  async status(requestId: string, sig: string): Promise<SupportStatus> {
    if (!requestId || requestId.length > 64 || !sig || !safeEqual(sig, this.signature(requestId)))
      throw new AppError('not_found');
    const req = await findSupportRequest(this.d.db, requestId);
    if (!req) throw new AppError('not_found');
    const messages = await supportMessages(this.d.db, requestId);
    return {
      ref: req.ref,
      status: req.status,
      createdAt: Number(req.created_at),
      messages: messages.map((m) => ({
        from: m.author === 'user' ? 'you' : 'support',
        body: m.body,
        at: Number(m.created_at),
      })),
    };
  }

  /**
   * A staff reply: stored (it shows on the status page) and mailed to the contact address
   * through the outbox, in one transaction. The caller has checked the role and scope.
   */
  async reply(
    requestId: string,
    staff: { id: string; role: string },
    body: string,
    ctx: RequestContext,
    trx: Kysely<Database> = this.d.db,
  ): Promise<void> {
    const d = this.d;
    const text = cleanBody(body).trim();
    if (!text || text.length > MESSAGE_MAX)
      throw new AppError('validation_failed', undefined, {
        fields: [
          {
            field: 'body',
            code: text ? 'too_long' : 'required',
            message: text ? t('support.error.too_long', { max: MESSAGE_MAX }) : t('support.error.reply'),
          },
        ],
      });
    const req = await findSupportRequest(trx, requestId);
    if (!req) throw new AppError('not_found');
    const now = d.clock.now();
    await addSupportMessage(trx, {
      id: newId(d.random),
      request_id: requestId,
      author: 'staff',
      staff_id: staff.id,
      body: text,
      created_at: now,
    });
    await setSupportStatus(trx, requestId, 'answered', now);
    await d.audit.record(
      'support.replied',
      ctx,
      { accountId: req.account_id, actorId: staff.id, details: { ref: req.ref, role: staff.role } },
      trx,
    );
    // In the language the filer used (kept with the request's review item), not the staff member's.
    const mail = withLocale(await filerLanguage(trx, requestId), () =>
      renderMail(d.brand, {
        subject: t('support.mail.reply_subject', { ref: req.ref }),
        title: t('support.mail.reply_title', { ref: req.ref }),
        lines: text.split('\n'),
        action: { label: t('support.mail.see'), url: this.statusUrl(requestId) },
      }),
    );
    await d.outbox.send(trx, { channel: 'email', kind: 'support_reply', to: req.contact, ...mail });
  }

  /** Marks the request closed (its review item was resolved). */
  async close(requestId: string, trx: Kysely<Database> = this.d.db): Promise<void> {
    await setSupportStatus(trx, requestId, 'closed', this.d.clock.now());
  }
}
