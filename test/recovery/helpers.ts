import assert from 'node:assert/strict';
import type { Client } from '../support/http.ts';
import { strongPassword, type TestServer } from '../support/server.ts';
import { codeIn, linkIn, type ReceivedMail, type SmtpReceiver } from '../support/smtp.ts';

export interface TestAccount {
  username: string;
  email: string;
  password: string;
}

/** Registers and activates an account through the real API and mail. */
export async function activeAccount(
  server: { client(): Client },
  smtp: SmtpReceiver,
  username: string,
  extra: Record<string, string> = {},
): Promise<TestAccount> {
  const c = server.client();
  const email = `${username}@example.test`;
  const password = strongPassword();
  const reg = await c.post('/api/v1/registrations', { username, email, password, ...extra });
  assert.equal(reg.status, 202, reg.text);
  const mail = await smtp.waitFor((m) => m.to.includes(email) && /Activate/.test(m.subject));
  const token = new URL(linkIn(mail, '/activate?token=')).searchParams.get('token');
  const act = await c.post('/api/v1/activations', { token });
  assert.equal(act.status, 200, act.text);
  return { username, email, password };
}

export const isResetMail = (email: string) => (m: ReceivedMail) =>
  m.to.includes(email) && /Reset your password/.test(m.subject);

/** Asks for a reset and returns the new reset mail (not one received before the request). */
export async function requestReset(
  server: { client(): Client },
  smtp: SmtpReceiver,
  identifier: string,
  email: string,
) {
  const before = smtp.mails.filter(isResetMail(email)).length;
  const res = await server.client().post('/api/v1/password-resets', { identifier });
  assert.equal(res.status, 202, res.text);
  await smtp.waitFor((m) => smtp.mails.filter(isResetMail(email)).length > before && isResetMail(email)(m));
  const mail = smtp.mails.filter(isResetMail(email))[before];
  return { mail, ...secretsIn(mail) };
}

export function secretsIn(mail: ReceivedMail): { link: string; token: string; code: string } {
  const link = linkIn(mail, '/auth/reset/code?token=');
  return { link, token: new URL(link).searchParams.get('token') as string, code: codeIn(mail) };
}

export async function signIn(server: TestServer | { client(): Client }, identifier: string, password: string) {
  const c = server.client();
  const res = await c.post('/api/v1/sessions', { identifier, password });
  return { c, status: res.status };
}

/** A real `latchkey serve` child process (SIGKILL-able), on the given database and SMTP server. */
export interface ChildServer {
  base: string;
  client(): Client;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnLatchkey(env: Record<string, string>): Promise<ChildServer> {
  const { spawn } = await import('node:child_process');
  const { freePort, GENEROUS_TIMEOUTS } = await import('../support/server.ts');
  const { Client } = await import('../support/http.ts');
  const port = env.LATCHKEY_PORT ? Number(env.LATCHKEY_PORT) : await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LATCHKEY_ENV: 'development',
      LATCHKEY_HOST: '127.0.0.1',
      LATCHKEY_PUBLIC_URL: base,
      LATCHKEY_LOG_LEVEL: 'warn',
      LATCHKEY_OUTBOX_POLL: '100ms',
      LATCHKEY_OUTBOX_BACKOFF_BASE: '200ms',
      LATCHKEY_CAPTCHA: 'off',
      ...GENEROUS_TIMEOUTS,
      ...env,
      LATCHKEY_PORT: String(port),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`latchkey exited with ${child.exitCode}:\n${stderr}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`latchkey did not start:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    client: () => new Client(base, base),
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
