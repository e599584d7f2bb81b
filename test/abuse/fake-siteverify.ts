import { createServer, type Server } from 'node:http';

/**
 * A local HTTP server shaped like the Turnstile / hCaptcha / reCAPTCHA siteverify endpoints:
 * form POST of secret + response (+ remoteip) → JSON `{success, …}`. The response token picks
 * the answer: `good`, `bad`, `slow` (never answers), `v3-low` / `v3-high` (reCAPTCHA v3 scores).
 */
export class FakeSiteverify {
  readonly requests: Record<string, string>[] = [];
  private server: Server | undefined;
  url = '';

  constructor(private readonly secret: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const form = Object.fromEntries(new URLSearchParams(body));
        this.requests.push(form);
        if (form.response === 'slow') return; // the caller's timeout must fire
        const answer = (o: object) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(o));
        };
        if (form.secret !== this.secret) return answer({ success: false, 'error-codes': ['invalid-input-secret'] });
        switch (form.response) {
          case 'good':
            return answer({ success: true, hostname: '127.0.0.1', challenge_ts: new Date().toISOString() });
          case 'v3-high':
            return answer({ success: true, score: 0.9, action: 'login' });
          case 'v3-low':
            return answer({ success: true, score: 0.1, action: 'login' });
          default:
            return answer({ success: false, 'error-codes': ['invalid-input-response'] });
        }
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', () => r()));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/siteverify`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
