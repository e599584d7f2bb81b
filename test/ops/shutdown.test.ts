import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/server.ts';

// The real CLI as a child process: `latchkey migrate`, `latchkey serve` and SIGTERM.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_')) env[k] = v;
  return { ...env, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_CAPTCHA: 'off', ...extra };
}

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b) => (stdout += b));
  child.stderr?.on('data', (b) => (stderr += b));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

async function waitHealthy(base: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error('the service did not become healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('CLI and graceful shutdown', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('`latchkey migrate` applies migrations, prints them, exits 0; a second run has nothing to do', async () => {
    const env = baseEnv({ LATCHKEY_DATABASE_URL: join(dir, 'migrate.db') });
    const first = await run(['migrate'], env).done;
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied: 001_foundation/);
    const second = await run(['migrate'], env).done;
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /up to date/);
  });

  test('production without SMTP is a start-up error with a clear message', async () => {
    const port = await freePort();
    const res = await run(
      ['serve'],
      baseEnv({
        LATCHKEY_ENV: 'production',
        LATCHKEY_SECRET: 's'.repeat(40),
        LATCHKEY_PORT: String(port),
        LATCHKEY_DATABASE_URL: join(dir, 'prod.db'),
      }),
    ).done;
    assert.equal(res.code, 1);
    assert.match(res.stderr, /LATCHKEY_SMTP_URL: required when LATCHKEY_ENV=production/);
  });

  test('a bad setting stops start-up, naming the setting', async () => {
    const res = await run(['serve'], baseEnv({ LATCHKEY_PORT: 'abc', LATCHKEY_DATABASE_URL: join(dir, 'bad.db') }))
      .done;
    assert.equal(res.code, 1);
    assert.match(res.stderr, /LATCHKEY_PORT="abc": must be a whole number/);
  });

  test('SIGTERM: stops accepting, finishes the request in flight, exits 0', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const { child, done } = run(
      ['serve'],
      baseEnv({
        LATCHKEY_PORT: String(port),
        LATCHKEY_HOST: '127.0.0.1',
        LATCHKEY_PUBLIC_URL: base,
        LATCHKEY_DATABASE_URL: join(dir, 'serve.db'),
      }),
    );
    try {
      await waitHealthy(base);
      // A slow client: headers and half the body now, the rest after SIGTERM.
      const body = JSON.stringify({ identifier: 'someone', password: 'not-the-password-1234' });
      const socket = connect(port, '127.0.0.1');
      await new Promise<void>((r) => socket.once('connect', () => r()));
      let response = '';
      socket.on('data', (b) => (response += b));
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      socket.write(
        `POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${base}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
      );
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      // no new connections once shutting down
      await assert.rejects(fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) }));
      socket.write(body.slice(10));
      await closed;
      assert.match(response, /^HTTP\/1\.1 401 /, 'the in-flight request got its real answer');
      assert.match(response, /invalid_credentials/);
      const exit = await done;
      assert.equal(exit.code, 0, exit.stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
