import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookSignature } from '../../src/delivery/sms/gateways.ts';

export interface Received {
  to: string;
  from: string;
  text: string;
}

/** A local HTTP server shaped like one SMS gateway; `down` answers 503 until cleared. */
export class FakeGateway {
  readonly received: Received[] = [];
  readonly rejected: string[] = [];
  down = false;
  private server?: Server;
  url = '';

  constructor(private readonly check: (req: IncomingMessage, body: string) => Received | string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (this.down) {
          res.writeHead(503).end();
          return;
        }
        const r = this.check(req, body);
        if (typeof r === 'string') {
          this.rejected.push(r);
          res
            .writeHead(r.startsWith('auth') ? 401 : 400, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: r }));
          return;
        }
        this.received.push(r);
        res
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ sid: 'SM1', messages: [{ status: '0', to: r.to }] }));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  async waitFor(pred: (r: Received) => boolean, timeoutMs = 10_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching SMS; rejected: ${this.rejected.join('; ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Twilio: POST /2010-04-01/Accounts/{sid}/Messages.json, basic auth sid:token, form To/From/Body. */
export function fakeTwilio(sid: string, token: string): FakeGateway {
  return new FakeGateway((req, body) => {
    if (req.method !== 'POST') return 'method';
    if (req.url !== `/2010-04-01/Accounts/${sid}/Messages.json`) return `path ${req.url}`;
    if (req.headers.authorization !== `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`) return 'auth';
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return 'content-type';
    const f = new URLSearchParams(body);
    const to = f.get('To');
    const from = f.get('From');
    const text = f.get('Body');
    if (!to?.startsWith('+') || !from || !text) return 'fields';
    return { to, from, text };
  });
}

/** Vonage: POST /sms/json with api_key, api_secret, from, to (no plus), text. */
export function fakeVonage(key: string, secret: string): FakeGateway {
  return new FakeGateway((req, body) => {
    if (req.method !== 'POST' || req.url !== '/sms/json') return `path ${req.method} ${req.url}`;
    let j: Record<string, string>;
    try {
      j = JSON.parse(body);
    } catch {
      return 'json';
    }
    if (j.api_key !== key || j.api_secret !== secret) return 'auth';
    if (!/^\d+$/.test(j.to ?? '') || !j.from || !j.text) return 'fields';
    return { to: `+${j.to}`, from: j.from, text: j.text };
  });
}

/** Generic webhook: verifies `X-Latchkey-Signature: t=…,v1=…` over "{t}.{body}" and the age. */
export function fakeWebhook(secret: string): FakeGateway {
  return new FakeGateway((req, body) => {
    if (req.method !== 'POST') return 'method';
    const sig = String(req.headers['x-latchkey-signature'] ?? '');
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
    if (!m) return 'auth: no signature';
    const want = Buffer.from(webhookSignature(secret, m[1], body));
    if (!timingSafeEqual(want, Buffer.from(m[2]))) return 'auth: bad signature';
    if (Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return 'auth: stale';
    const j = JSON.parse(body);
    if (!j.id || !j.to || !j.text) return 'fields';
    return { to: j.to, from: j.from, text: j.text };
  });
}
