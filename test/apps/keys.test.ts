import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/security/clock.ts';
import { unseal } from '../../src/security/sealed.ts';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { registerClient, signInThrough } from './op-support.ts';

// OP-05: signing keys generated at first start, sealed with the server secret, rotated by
// command with the old key published until the tokens it signed have expired.

/** `latchkey …` on the test server's database and settings, as an operator would run it. */
function latchkey(env: Record<string, string>, ...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, LATCHKEY_LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

const kidOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).kid as string;

describe('OpenID Provider signing keys', () => {
  const clock = new FakeClock(Date.now());
  const fx = withServer({ env: { LATCHKEY_OP_ID_TOKEN_TTL: '10m' }, overrides: { clock } });

  const jwksKids = async () =>
    ((await (await fetch(`${fx.server.base}/oidc/jwks`)).json()).keys as { kid: string }[]).map((k) => k.kid);

  it('OP-05 the first start made one key, stored encrypted with the server secret', async () => {
    const rows = await fx.server.deps.db.selectFrom('oidc_keys').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.doesNotMatch(rows[0].private_jwk_enc, /"d"|"p"|"q"/, 'no private part in clear');
    assert.match(unseal(fx.server.deps.secret, 'oidc-signing-key', rows[0].private_jwk_enc), /"d":/);
    assert.throws(() => unseal('another-secret-of-at-least-32-chars!!', 'oidc-signing-key', rows[0].private_jwk_enc));
    assert.doesNotMatch(rows[0].public_jwk, /"d"/);
    assert.deepEqual(await jwksKids(), [rows[0].kid]);
  });

  it('OP-05 `latchkey keys rotate` signs with a new key; the old one stays published until its tokens expire', async () => {
    const acct = await activeAccount(fx.server);
    const app = await registerClient(fx.server, { firstParty: true });
    const c = await signedIn(fx.server, acct.username, acct.password);
    const before = await signInThrough(c, app);
    const oldKid = kidOf(before.tokens.id_token as string);

    const cli = latchkey(fx.server.env, 'keys', 'rotate');
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /new signing key/);
    // the running process notices within LATCHKEY_OP_KEY_RELOAD; the test does not wait for it
    assert.equal(await fx.server.deps.apps.reload(), true);

    const kids = await jwksKids();
    assert.equal(kids.length, 2);
    assert.equal(kids[1], oldKid, 'the old key is still published');
    const after = await signInThrough(c, app);
    const newKid = kidOf(after.tokens.id_token as string);
    assert.notEqual(newKid, oldKid);
    assert.equal(kids[0], newKid);

    // once every token the old key signed has expired, it is no longer published
    clock.advance(11 * 60_000);
    await fx.server.deps.apps.reload();
    assert.deepEqual(await jwksKids(), [newKid]);
  });

  it('`latchkey clients add/list/remove` prints the id and the secret once', async () => {
    const run = (...args: string[]) => latchkey(fx.server.env, 'clients', ...args);
    const add = run(
      'add',
      '--name',
      'CLI app',
      '--redirect-uri',
      'https://app.example.com/cb',
      '--first-party',
      '--backchannel-logout-uri',
      'https://app.example.com/bc',
    );
    assert.equal(add.status, 0, add.stderr);
    const id = /client_id: (\S+)/.exec(add.stdout)?.[1];
    assert.ok(id && /client_secret: \S{40,}/.test(add.stdout));
    const list = run('list');
    assert.match(list.stdout, new RegExp(`${id}  CLI app  confidential first-party  https://app.example.com/cb`));
    assert.doesNotMatch(list.stdout, /client_secret/);
    assert.equal(run('remove', id).status, 0);
    assert.equal(await fx.server.deps.apps.clients.get(id), undefined);
  });

  it('client registration refuses redirect URIs that cannot be matched exactly or are not https', async () => {
    const clients = fx.server.deps.apps.clients;
    for (const uri of ['javascript:alert(1)', 'http://app.example.com/cb', 'https://app.example.com/cb#x', 'cb'])
      await assert.rejects(clients.add({ name: 'x', redirectUris: [uri] }), /validation_failed|must/, uri);
    await clients.add({ name: 'native', redirectUris: ['com.example.app:/cb', 'http://127.0.0.1:8000/cb'] });
  });
});
