import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withServer } from '../support/fixture.ts';
import { Agent, FakeOAuthServer } from '../support/oauth-providers.ts';
import { freePort } from '../support/server.ts';

// The same rules on PostgreSQL: identity lookup, account creation, and the unlink guard (which
// locks the account row there, so two concurrent unlinks cannot remove the last two methods).

describe('external accounts on PostgreSQL', () => {
  let port: number;
  let base: string;
  const github = new FakeOAuthServer('github', 'gh-client', 'gh-secret');
  const x = new FakeOAuthServer('x', 'x-client', 'x-secret');

  before(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await Promise.all([github.start(), x.start()]);
  });
  const fx = withServer({ pg: true, env: () => ({ LATCHKEY_PORT: String(port), ...github.env(), ...x.env() }) });
  after(async () => {
    await Promise.all([github.stop(), x.stop()]);
  });

  const cookie = (a: Agent) =>
    [...(a.jars.get(new URL(base).host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
  const identities = async (a: Agent) =>
    (
      (await (await fetch(`${base}/api/v1/account/identities`, { headers: { cookie: cookie(a) } })).json()) as {
        identities: { id: string; provider: string }[];
      }
    ).identities;
  const unlink = (a: Agent, id: string) =>
    fetch(`${base}/api/v1/account/identities/${id}`, {
      method: 'DELETE',
      headers: { cookie: cookie(a), origin: base },
    });

  test('EXT-03 EXT-06 sign in, link a second provider, and concurrent unlinks leave one way to sign in', async (t) => {
    if (!fx.ready(t)) return;
    github.nextUser = { id: '4242', login: 'pguser', name: 'PG User', email: 'pg@example.test', emailVerified: true };
    const a = new Agent();
    assert.equal(new URL((await a.get(`${base}/auth/github/start`)).url).pathname, '/auth/welcome');
    x.nextUser = { id: 'x-4242', login: 'pguser_x', name: 'PG User' };
    const linked = await a.form(`${base}/settings/identities/link/x`, {});
    assert.equal(new URL(linked.url).pathname, '/settings');
    const both = await identities(a);
    assert.deepEqual(both.map((i) => i.provider).sort(), ['github', 'x']);

    const results = await Promise.all(both.map((i) => unlink(a, i.id)));
    assert.deepEqual(results.map((r) => r.status).sort(), [204, 409]);
    assert.equal((await identities(a)).length, 1);

    // The remaining identity still signs in to the same account.
    const left = (await identities(a))[0].provider;
    const b = new Agent();
    assert.equal(new URL((await b.get(`${base}/auth/${left}/start`)).url).pathname, '/settings');
  });
});
