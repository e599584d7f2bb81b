import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The test suites' free-port helper, as the scenarios already share their PostgreSQL helper.
import { freePort } from '../../test/support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface Child {
  base: string;
  /** the server's process id, for its CPU time (bench/lib/cpu-time.ts) */
  pid: number;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The bench's own settings for the service: the limiter multiplied out of the way
 * (LATCHKEY_RATE_LIMIT_SCALE at its maximum), CAPTCHA off, quiet logs, a fresh SQLite file.
 * Scenarios may override any of them.
 */
export function benchEnv(
  port: number,
  databaseUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    LATCHKEY_ENV: 'development',
    LATCHKEY_HOST: '127.0.0.1',
    LATCHKEY_PORT: String(port),
    LATCHKEY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    LATCHKEY_DATABASE_URL: databaseUrl,
    LATCHKEY_LOG_LEVEL: 'warn',
    LATCHKEY_CAPTCHA: 'off',
    LATCHKEY_RATE_LIMIT_SCALE: '1000000',
    LATCHKEY_OUTBOX_POLL: '100ms',
    ...extra,
  };
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bench child exited with ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`bench child not ready at ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function spawnChild(args: string[], env: Record<string, string>, cpu?: number): ChildProcess {
  const node = [process.execPath, '--import', 'tsx', ...args];
  const [command, ...rest] = cpu === undefined ? node : ['taskset', '-c', String(cpu), ...node];
  const child = spawn(command as string, rest, {
    cwd: ROOT,
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(force);
}

/** `node --import tsx src/main.ts serve` in its own process, so the load generator never shares its event loop. */
export async function startService(
  extra: Record<string, string> = {},
  nodeArgs: string[] = [],
  cpu?: number,
): Promise<Child> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const env = benchEnv(port, join(dir, 'bench.db'), extra);
  const child = spawnChild([...nodeArgs, 'src/main.ts', 'serve'], env, cpu);
  const base = `http://127.0.0.1:${port}`;
  await waitReady(`${base}/readyz`, child);
  return {
    base,
    pid: child.pid as number,
    env,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** bench/bare-server.ts: a bare Fastify route started the same way, the yardstick for the session lookup. */
export async function startBare(cpu?: number, extra: Record<string, string> = {}): Promise<Child> {
  const port = await freePort();
  const env = { BENCH_PORT: String(port), ...extra };
  const child = spawnChild(['bench/bare-server.ts'], env, cpu);
  const base = `http://127.0.0.1:${port}`;
  await waitReady(`${base}/bare`, child);
  return { base, pid: child.pid as number, env, stop: () => stopChild(child) };
}
