import { createHmac } from 'node:crypto';
import type { OutboxRow, Transport } from '../worker.ts';

// SMS gateways as outbox transports: the worker retries with backoff whenever deliver() throws,
// and scrubs the body once it returns, so a gateway only has to say "sent" or "try again".

export interface GatewayOptions {
  from: string;
  timeoutMs: number;
}

async function post(url: string, init: RequestInit, timeoutMs: number, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`${what} unreachable: ${(err as Error).name}`);
  }
  if (!res.ok) {
    // The body may echo the message; only the status goes into last_error.
    await res.body?.cancel();
    throw new Error(`${what} answered ${res.status}`);
  }
  return res;
}

const trimBase = (base: string) => base.replace(/\/+$/, '');

/** The message's own sender id (an organization's brand, see Outbox.send), else the configured one. */
export function senderOf(row: Pick<OutboxRow, 'payload'>, fallback: string): string {
  if (!row.payload) return fallback;
  try {
    const from = (JSON.parse(row.payload) as { from?: unknown }).from;
    return typeof from === 'string' && /^[A-Za-z0-9 ]{1,11}$/.test(from) ? from : fallback;
  } catch {
    return fallback;
  }
}

/** Twilio Messages API: POST {base}/2010-04-01/Accounts/{sid}/Messages.json, basic auth, form fields. */
export class TwilioGateway implements Transport {
  constructor(
    private readonly base: string,
    private readonly accountSid: string,
    private readonly authToken: string,
    private readonly o: GatewayOptions,
  ) {}

  async deliver(row: OutboxRow): Promise<void> {
    const url = `${trimBase(this.base)}/2010-04-01/Accounts/${encodeURIComponent(this.accountSid)}/Messages.json`;
    const res = await post(
      url,
      {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          To: row.recipient,
          From: senderOf(row, this.o.from),
          Body: row.body_text,
        }).toString(),
      },
      this.o.timeoutMs,
      'Twilio',
    );
    await res.body?.cancel();
  }
}

/** Vonage SMS API: POST {base}/sms/json; a 200 can still report a per-message failure in `status`. */
export class VonageGateway implements Transport {
  constructor(
    private readonly base: string,
    private readonly apiKey: string,
    private readonly apiSecret: string,
    private readonly o: GatewayOptions,
  ) {}

  async deliver(row: OutboxRow): Promise<void> {
    const res = await post(
      `${trimBase(this.base)}/sms/json`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          api_key: this.apiKey,
          api_secret: this.apiSecret,
          from: senderOf(row, this.o.from),
          to: row.recipient.replace(/^\+/, ''),
          text: row.body_text,
        }),
      },
      this.o.timeoutMs,
      'Vonage',
    );
    const body = (await res.json().catch(() => null)) as { messages?: { status?: string }[] } | null;
    const status = body?.messages?.[0]?.status;
    if (status !== '0') throw new Error(`Vonage refused the message (status ${status ?? 'missing'})`);
  }
}

export const WEBHOOK_SIGNATURE_HEADER = 'x-latchkey-signature';

/** The signature a webhook receiver recomputes: hex HMAC-SHA256 over "{timestamp}.{body}". */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Any other gateway: a JSON POST {id, to, from, text} with
 * `X-Latchkey-Signature: t={unix seconds},v1={hmac}` so the receiver can check origin and age.
 * The outbox row id lets the receiver drop a retry it already handled.
 */
export class WebhookGateway implements Transport {
  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly o: GatewayOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async deliver(row: OutboxRow): Promise<void> {
    const body = JSON.stringify({
      id: row.id,
      to: row.recipient,
      from: senderOf(row, this.o.from),
      text: row.body_text,
    });
    const timestamp = String(Math.floor(this.now() / 1000));
    const res = await post(
      this.url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_SIGNATURE_HEADER]: `t=${timestamp},v1=${webhookSignature(this.secret, timestamp, body)}`,
        },
        body,
      },
      this.o.timeoutMs,
      'SMS webhook',
    );
    await res.body?.cancel();
  }
}
