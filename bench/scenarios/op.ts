import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { activeAccounts, sessionCookie } from '../lib/accounts.ts';
import { type LoadResult, load, round } from '../lib/load.ts';
import type { Scenario } from '../lib/scenario.ts';
import { type Child, startService } from '../lib/service.ts';

// The OpenID Provider under load, next to the session check in the same run: the token endpoint
// exchanging single-use codes, introspection, and discovery + JWKS (cached metadata, p99 target).

const ROOT = join(import.meta.dirname, '..', '..');
const REDIRECT = 'http://127.0.0.1:59999/callback';
// One verifier for every code: PKCE is checked per code all the same.
const VERIFIER = 'bench-verifier-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG';

async function challenge(): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(VERIFIER).digest('base64url');
}

function addClient(svc: Child): { id: string; secret: string } {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/main.ts',
      'clients',
      'add',
      '--name',
      'bench',
      '--redirect-uri',
      REDIRECT,
      '--first-party',
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...svc.env, LATCHKEY_LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const id = /client_id: (\S+)/.exec(r.stdout)?.[1];
  const secret = /client_secret: (\S+)/.exec(r.stdout)?.[1];
  if (!id || !secret) throw new Error(`clients add failed: ${r.stderr}`);
  return { id, secret };
}

/** One authorization code, by the redirects a signed-in browser follows. */
async function code(svc: Child, clientId: string, cookie: string, ch: string): Promise<string> {
  const q = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid profile',
    code_challenge: ch,
    code_challenge_method: 'S256',
  });
  let url = `${svc.base}/oidc/auth?${q}`;
  const jar = new Map<string, string>([['_', cookie]]);
  for (let i = 0; i < 8; i++) {
    const res = await fetch(url, { headers: { cookie: [...jar.values()].join('; ') }, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0];
      jar.set(pair.split('=')[0], pair);
    }
    await res.arrayBuffer();
    const next = res.headers.get('location') ?? /^0;url=(.+)$/.exec(res.headers.get('refresh') ?? '')?.[1];
    if (!next) throw new Error(`authorization stopped at ${res.status}`);
    const to = new URL(next, url);
    if (to.href.startsWith(REDIRECT)) return to.searchParams.get('code') as string;
    url = to.href;
  }
  throw new Error('too many redirects');
}

async function codes(svc: Child, clientId: string, cookie: string, n: number): Promise<string[]> {
  const ch = await challenge();
  const out: string[] = [];
  const workers = Array.from({ length: 8 }, async () => {
    while (out.length < n) out.push(await code(svc, clientId, cookie, ch));
  });
  await Promise.all(workers);
  return out.slice(0, n);
}

/** The token endpoint with each request taking the next unused code (a code works once). */
async function exchangeLoad(svc: Child, basic: string, bodies: string[], connections: number): Promise<LoadResult> {
  let i = 0;
  const t0 = performance.now();
  const result = await autocannon({
    url: `${svc.base}/oidc/token`,
    connections,
    amount: bodies.length,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }),
      },
    ],
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    connections,
    durationS: round(seconds, 2),
    requests: result.requests.total,
    reqPerSec: round(result.requests.total / seconds),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

export const scenarios: Scenario[] = [
  {
    name: 'op',
    description:
      'OpenID Provider: code exchange at /oidc/token and /oidc/introspect req/s next to GET /api/v1/sessions/current; discovery and JWKS at 50 connections (p99 <= 5 ms)',
    async run({ seconds }) {
      const connections = 50;
      const svc = await startService({ LATCHKEY_OP_CODE_TTL: '600s' });
      try {
        const client = addClient(svc);
        const basic = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
        const [a] = await activeAccounts(svc, 1, 'op');
        const cookie = await sessionCookie(svc, a);
        const n = Number(process.env.BENCH_OP_CODES ?? Math.max(500, seconds * 150));
        const made = await codes(svc, client.id, cookie, n);
        const body = (c: string) =>
          new URLSearchParams({
            grant_type: 'authorization_code',
            code: c,
            redirect_uri: REDIRECT,
            code_verifier: VERIFIER,
          }).toString();
        const token = await exchangeLoad(svc, basic, made.map(body), connections);
        // an access token to introspect
        const one = await fetch(`${svc.base}/oidc/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
          body: body(await code(svc, client.id, cookie, await challenge())),
        });
        const access = ((await one.json()) as { access_token: string }).access_token;
        const introspect = await load({
          url: `${svc.base}/oidc/introspect`,
          connections,
          duration: seconds,
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
          bodies: [new URLSearchParams({ token: access }).toString()],
        });
        const session = await load({
          url: `${svc.base}/api/v1/sessions/current`,
          connections,
          duration: seconds,
          headers: { cookie },
        });
        await load({ url: `${svc.base}/.well-known/openid-configuration`, connections, duration: 1 });
        const discovery = await load({
          url: `${svc.base}/.well-known/openid-configuration`,
          connections,
          duration: seconds,
        });
        const jwks = await load({ url: `${svc.base}/oidc/jwks`, connections, duration: seconds });
        const headers = {
          discovery: (await fetch(`${svc.base}/.well-known/openid-configuration`)).headers.get('cache-control'),
          jwks: (await fetch(`${svc.base}/oidc/jwks`)).headers.get('cache-control'),
        };
        return {
          figures: {
            connections,
            codeExchange: token,
            introspection: introspect,
            sessionCheck: session,
            discovery,
            jwks,
            cacheControl: headers,
          },
          targets: [
            {
              name: 'discovery p99 at 50 connections',
              target: '<= 5 ms',
              measured: discovery.latencyMs.p99,
              met: discovery.latencyMs.p99 <= 5,
            },
            {
              name: 'JWKS p99 at 50 connections',
              target: '<= 5 ms',
              measured: jwks.latencyMs.p99,
              met: jwks.latencyMs.p99 <= 5,
            },
            {
              name: 'code exchanges without error',
              target: '0 non-2xx',
              measured: token.non2xx,
              met: token.non2xx === 0,
            },
          ],
        };
      } finally {
        await svc.stop();
      }
    },
  },
];
