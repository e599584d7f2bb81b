import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  parsed: ParsedMail;
}

/** A real SMTP server on 127.0.0.1 that parses every mail it accepts. */
export class SmtpReceiver {
  readonly mails: ReceivedMail[] = [];
  private server?: SMTPServer;
  private waiters: (() => void)[] = [];
  port = 0;
  /** when set, every mail is answered with a temporary failure */
  refuse = false;
  /** delay before answering each mail (a slow mail server) */
  delayMs = 0;

  async start(port = 0): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', async () => {
          if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
          if (this.refuse) {
            const err = new Error('try again later') as Error & { responseCode: number };
            err.responseCode = 451;
            return callback(err);
          }
          const parsed = await simpleParser(Buffer.concat(chunks));
          const to = Array.isArray(parsed.to) ? parsed.to[0]?.text : parsed.to?.text;
          this.mails.push({
            to: to ?? '',
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: String(parsed.html || ''),
            parsed,
          });
          for (const w of this.waiters.splice(0)) w();
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = (this.server as unknown as { server: import('node:net').Server }).server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Resolves with the first mail (received so far or later) matching `pred`. */
  async waitFor(pred: (m: ReceivedMail) => boolean, timeoutMs = 10_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.mails.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching mail within ${timeoutMs} ms (have ${this.mails.length}: ${this.mails.map((m) => `${m.to}: ${m.subject}`).join(' | ')})`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  to(address: string): ReceivedMail[] {
    return this.mails.filter((m) => m.to.toLowerCase().includes(address.toLowerCase()));
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}

/** Pulls the first link to `path` out of a mail's text. */
export function linkIn(mail: { text: string }, path: string): string {
  const m = new RegExp(`https?://[^\\s]*${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^\\s]*`).exec(mail.text);
  if (!m) throw new Error(`no ${path} link in mail:\n${mail.text}`);
  return m[0];
}

/** Pulls a code like K7QM-2XRT (or digits) shown after `label` in a mail's text. */
export function codeIn(mail: { text: string }, pattern = /\b([0-9A-Z]{4}-[0-9A-Z]{4})\b/): string {
  const m = pattern.exec(mail.text);
  if (!m) throw new Error(`no code in mail:\n${mail.text}`);
  return m[1];
}
