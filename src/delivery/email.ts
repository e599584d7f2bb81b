import nodemailer from 'nodemailer';
import type { OutboxRow, Transport } from './worker.ts';

/** SMTP delivery through nodemailer. Any SMTP error is thrown so the worker retries later. */
export class SmtpTransport implements Transport {
  private readonly transporter: nodemailer.Transporter;
  constructor(
    url: string,
    private readonly from: string,
    timeoutMs: number,
  ) {
    this.transporter = nodemailer.createTransport(url, {
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    } as nodemailer.TransportOptions);
  }

  async deliver(row: OutboxRow): Promise<void> {
    await this.transporter.sendMail({
      from: this.from,
      to: row.recipient,
      subject: row.subject,
      text: row.body_text,
      html: row.body_html || undefined,
      headers: { 'X-Latchkey-Message': row.kind, 'Auto-Submitted': 'auto-generated' },
    });
  }

  close(): void {
    this.transporter.close();
  }
}
