import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { needs } from '../support/env.ts';
import { withServer } from '../support/fixture.ts';
import { freePort } from '../support/server.ts';

// Forward-auth (GET /api/v1/forward-auth) behind a real nginx (the Debian package), started on
// loopback with its own prefix and configuration, the way docs/openid-provider.md sets it up.

const NGINX = process.env.LATCHKEY_TEST_NGINX ?? '/usr/sbin/nginx';

describe('forward-auth behind nginx auth_request', () => {
  let proxyPort = 0;
  let nginx: ChildProcess | undefined;
  let dir = '';
  const fx = withServer({
    env: async () => {
      proxyPort = await freePort();
      return {
        LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
        LATCHKEY_RETURN_URL_ALLOWLIST: `http://127.0.0.1:${proxyPort}`,
      };
    },
  });
  const proxied = () => `http://127.0.0.1:${proxyPort}`;

  before(async () => {
    if (!needs(undefined, `nginx at ${NGINX}`, existsSync(NGINX))) return;
    const latchkey = new URL(fx.server.base).host;
    dir = mkdtempSync(join(tmpdir(), 'latchkey-nginx-'));
    mkdirSync(join(dir, 'www', 'private'), { recursive: true });
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(dir, 'www', 'private', 'page.html'), '<p>the protected app</p>\n');
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${proxyPort};
    root ${dir}/www;
    location / {
      auth_request /_latchkey;
      auth_request_set $latchkey_user $upstream_http_x_latchkey_user;
      auth_request_set $latchkey_groups $upstream_http_x_latchkey_groups;
      auth_request_set $latchkey_login $upstream_http_x_latchkey_login;
      add_header X-Seen-User $latchkey_user always;
      add_header X-Seen-Groups $latchkey_groups always;
      error_page 401 = @latchkey_login;
    }
    location = /_latchkey {
      internal;
      proxy_pass http://${latchkey}/api/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    }
    location @latchkey_login {
      if ($latchkey_login = "") { return 401; }
      return 302 $latchkey_login;
    }
  }
}
`,
    );
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')], {
      stdio: 'ignore',
    });
    fx.onStop(async () => {
      nginx?.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      if (nginx && nginx.exitCode === null) nginx.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    // Bounded wait for the listener.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await fetch(`${proxied()}/`, { redirect: 'manual' });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error('nginx did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  it('a signed-in browser gets the page; nginx passes X-Latchkey-User and groups on', async (t) => {
    if (!needs(t, 'nginx', existsSync(NGINX))) return;
    const acct = await activeAccount(fx.server);
    const c = await signedIn(fx.server, acct.username, acct.password);
    const res = await fetch(`${proxied()}/private/page.html`, {
      headers: { cookie: c.cookieHeader(), accept: 'text/html' },
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /the protected app/);
    assert.equal(res.headers.get('x-seen-user'), acct.username);
    assert.match(res.headers.get('x-seen-groups') ?? '', /default/);
  });

  it('a page without a session is sent to /login?return_to=<the page>, and comes back after signing in', async (t) => {
    if (!needs(t, 'nginx', existsSync(NGINX))) return;
    const res = await fetch(`${proxied()}/private/page.html?x=1`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 302);
    const login = new URL(res.headers.get('location') as string);
    assert.equal(login.origin + login.pathname, `${fx.server.base}/login`);
    assert.equal(login.searchParams.get('return_to'), `${proxied()}/private/page.html?x=1`);

    const acct = await activeAccount(fx.server);
    const c = fx.server.client();
    const page = await c.get(login.pathname + login.search, { accept: 'text/html' });
    // The page keeps the address in its form (return_to) until the sign-in is done.
    const kept = /name="return_to" value="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(kept);
    const signIn = await c.form('/login', {
      identifier: acct.username,
      password: acct.password,
      return_to: kept.replaceAll('&amp;', '&'),
    });
    assert.equal(signIn.status, 303);
    assert.equal(signIn.headers.get('location'), `${proxied()}/private/page.html?x=1`);
  });

  it('an API request without a session gets 401, never a redirect', async (t) => {
    if (!needs(t, 'nginx', existsSync(NGINX))) return;
    const res = await fetch(`${proxied()}/private/page.html`, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 401);
  });

  it('Traefik/Caddy headers from a trusted proxy give return_to; an origin off the allow-list is dropped', async () => {
    // X-Forwarded-* are believed only from LATCHKEY_TRUSTED_PROXIES (127.0.0.1 here).
    const direct = await fetch(`${fx.server.base}/api/v1/forward-auth`, {
      headers: {
        accept: 'text/html',
        'x-forwarded-host': 'evil.test',
        'x-forwarded-uri': '/x',
        'x-forwarded-proto': 'https',
      },
      redirect: 'manual',
    });
    assert.equal(direct.status, 302);
    assert.equal(direct.headers.get('location'), `${fx.server.base}/login`, 'evil.test is not allow-listed');
    const traefik = await fetch(`${fx.server.base}/api/v1/forward-auth`, {
      headers: {
        accept: 'text/html',
        'x-forwarded-host': `127.0.0.1:${proxyPort}`,
        'x-forwarded-uri': '/app?a=b',
        'x-forwarded-proto': 'http',
      },
      redirect: 'manual',
    });
    assert.equal(
      traefik.headers.get('location'),
      `${fx.server.base}/login?return_to=${encodeURIComponent(`${proxied()}/app?a=b`)}`,
    );
  });
});
