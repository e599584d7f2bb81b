// Instructions per request for GET /api/v1/sessions/current and its bare Fastify yardstick,
// counted by valgrind's callgrind: `npm run bench:instructions [-- bare|session]`.
//
// Wall-clock throughput on a shared 2-core VM moved by a third between identical runs, too much
// to see a change of a few percent; instruction counts repeat within 1–3 %. Each server runs
// under callgrind with V8's --single-threaded (no concurrent compiler or GC threads, so the count
// does not depend on scheduling), is warmed up with WARM requests uncounted, and then N requests
// from 50 connections are counted. The service polls its outbox once a minute here so that the
// poller, slowed 50-fold by valgrind, does not land in the count. Needs valgrind (Debian's
// package); loads 127.0.0.1 only.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort } from '../test/support/server.ts';
import { activeAccounts, sessionCookie } from './lib/accounts.ts';
import { benchEnv } from './lib/service.ts';

const N = Number(process.env.N ?? 10_000);
const WARM = Number(process.env.WARM ?? 60_000);

async function ready(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`not ready: ${url}`);
}

async function count(
  kind: 'bare' | 'session',
): Promise<{ kind: string; requests: number; instructionsPerRequest: number }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-callgrind-'));
  const env =
    kind === 'bare'
      ? { BENCH_PORT: String(port) }
      : benchEnv(port, join(dir, 'bench.db'), { LATCHKEY_OUTBOX_POLL: '60s' });
  const script = kind === 'bare' ? ['bench/bare-server.ts'] : ['src/main.ts', 'serve'];
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${dir}/cg.%p`,
      process.execPath,
      '--single-threaded',
      '--import',
      'tsx',
      ...script,
    ],
    { cwd: join(import.meta.dirname, '..'), env: { ...process.env, NODE_NO_WARNINGS: '1', ...env }, stdio: 'ignore' },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await ready(`${base}${kind === 'bare' ? '/bare' : '/readyz'}`);
    let url = `${base}/bare`;
    let headers: Record<string, string> | undefined;
    if (kind === 'session') {
      const svc = { base, pid: child.pid as number, env, stop: async () => {} };
      const [a] = await activeAccounts(svc, 1, 'callgrind');
      headers = { cookie: await sessionCookie(svc, a as NonNullable<typeof a>) };
      url = `${base}/api/v1/sessions/current`;
    }
    const run = (amount: number) => autocannon({ url, connections: 50, amount, headers, timeout: 60 });
    await run(WARM);
    const pid = String(child.pid);
    execFileSync('callgrind_control', ['--instr=on', pid], { stdio: 'ignore' });
    const r = await run(N);
    execFileSync('callgrind_control', ['--instr=off', pid], { stdio: 'ignore' });
    if (r.non2xx || r.errors) throw new Error(`${kind}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
    let total = 0;
    for (const f of readdirSync(dir).filter((f) => /^cg\.\d+\.\d+$/.test(f))) {
      const out = execFileSync('callgrind_annotate', [join(dir, f)], { encoding: 'utf8', maxBuffer: 1e8 });
      total += Number(/([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(out)?.[1]?.replace(/,/g, '') ?? 0);
    }
    return { kind, requests: r.requests.total, instructionsPerRequest: Math.round(total / r.requests.total) };
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(dir, { recursive: true, force: true });
  }
}

const which = process.argv.slice(2);
const kinds = (which.length ? which : ['bare', 'session']) as ('bare' | 'session')[];
const results = [];
for (const kind of kinds) results.push(await count(kind));
const bare = results.find((r) => r.kind === 'bare');
const session = results.find((r) => r.kind === 'session');
console.log(
  JSON.stringify(
    {
      N,
      WARM,
      results,
      ratio:
        bare && session
          ? Math.round((bare.instructionsPerRequest / session.instructionsPerRequest) * 1000) / 1000
          : undefined,
    },
    null,
    2,
  ),
);
