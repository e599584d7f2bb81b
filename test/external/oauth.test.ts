import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, FakeOAuthServer } from '../support/oauth-providers.ts';
import { freePort, startTestServer, type TestServer } from '../support/server.ts';

// GitHub, Facebook and X are plain OAuth 2.0 (no ID token): local servers shaped like their
// authorize, token, user and emails APIs; each token request is checked for the PKCE verifier.

describe('external accounts with GitHub, Facebook and X', () => {
  let server: TestServer;
  let base: string;
  const github = new FakeOAuthServer('github', 'gh-client', 'gh-secret');
  const facebook = new FakeOAuthServer('facebook', 'fb-client', 'fb-secret');
  const x = new FakeOAuthServer('x', 'x-client', 'x-secret');

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await Promise.all([github.start(), facebook.start(), x.start()]);
    server = await startTestServer({ LATCHKEY_PORT: String(port), ...github.env(), ...facebook.env(), ...x.env() });
  });
  after(async () => {
    await server?.close();
    await Promise.all([github.stop(), facebook.stop(), x.stop()]);
  });

  const account = async (a: Agent) => {
    const cookie = [...(a.jars.get(new URL(base).host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(`${base}/api/v1/sessions/current`, { headers: { cookie } });
    return res.status === 200
      ? ((await res.json()) as { account: { id: string; username: string; email: string | null } }).account
      : null;
  };

  test('EXT-03 GitHub: the verified primary email is kept, the login becomes the username, the next sign-in finds the account', async () => {
    github.nextUser = {
      id: '583231',
      login: 'octocat',
      name: 'The Octocat',
      email: 'octocat@example.test',
      emailVerified: true,
    };
    const a = new Agent();
    const res = await a.get(`${base}/auth/github/start`);
    assert.equal(new URL(res.url).pathname, '/auth/welcome');
    const first = await account(a);
    assert.equal(first?.username, 'octocat');
    assert.equal(first?.email, 'octocat@example.test');
    const b = new Agent();
    assert.equal(new URL((await b.get(`${base}/auth/github/start`)).url).pathname, '/settings');
    assert.equal((await account(b))?.id, first?.id);
  });

  test('GitHub: an unverified email is not put on the account; a taken username gets a suffix', async () => {
    github.nextUser = {
      id: '999',
      login: 'octocat',
      name: 'Another Octocat',
      email: 'other@example.test',
      emailVerified: false,
    };
    const a = new Agent();
    await a.get(`${base}/auth/github/start`);
    const acct = await account(a);
    assert.equal(acct?.email, null);
    assert.equal(acct?.username, 'octocat-2');
  });

  test('Facebook: signs in; its email is not trusted as verified', async () => {
    facebook.nextUser = { id: '10150000', name: 'Face Person', email: 'face@example.test' };
    const a = new Agent();
    const res = await a.get(`${base}/auth/facebook/start`);
    assert.equal(new URL(res.url).pathname, '/auth/welcome');
    const acct = await account(a);
    assert.equal(acct?.username, 'face.person');
    assert.equal(acct?.email, null);
  });

  test('X: OAuth 2.0 with PKCE and HTTP Basic client authentication', async () => {
    x.nextUser = { id: '2244994945', login: 'XDevelopers', name: 'X Developers' };
    const a = new Agent();
    const res = await a.get(`${base}/auth/x/start`);
    assert.equal(new URL(res.url).pathname, '/auth/welcome');
    assert.equal((await account(a))?.username, 'xdevelopers');
  });

  test('provider trouble at the token endpoint shows a clear page with a way back', async () => {
    github.failToken = true;
    try {
      const a = new Agent();
      const res = await a.get(`${base}/auth/github/start`);
      assert.ok(res.status >= 400 && res.status < 600 && res.status !== 500, String(res.status));
      assert.match(res.text, /href="\/login"/);
      assert.equal(await account(a), null);
    } finally {
      github.failToken = false;
    }
  });

  test('a user who cancels at GitHub gets a clear page', async () => {
    github.cancel = true;
    try {
      const res = await new Agent().get(`${base}/auth/github/start`);
      assert.equal(res.status, 400);
      assert.match(res.text, /cancelled or refused/);
    } finally {
      github.cancel = false;
    }
  });
});
