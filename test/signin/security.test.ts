import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hash as argonHash } from '@node-rs/argon2';
import { sha256 } from '../../src/security/hashing.ts';
import { activeAccount, signedIn, snapshot, uniqueName } from '../support/accounts.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';

// Sign-in, sessions and password rules over real HTTP, checked against the database.

const COOKIE = 'latchkey_session';
const setCookie = (res: { headers: Headers }) =>
  res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`)) ?? '';
const tokenOf = (res: { headers: Headers }) => /^[^=]+=([^;]*)/.exec(setCookie(res))?.[1] ?? '';

describe('sign-in, sessions and password rules over HTTP', () => {
  let server: TestServer;
  // Real hashing work, as the hasher counts it: verify, the equal-cost dummy (burn) and new
  // hashes (PWD-02: a 1 MB password must never reach the hasher).
  const hashCalls = () => Object.values(server.deps.hasher.hashesRun).reduce((a, b) => a + b, 0);
  before(async () => {
    server = await startTestServer({ LATCHKEY_PASSWORD_MIN_LENGTH: '12' });
  });
  after(() => server?.close());

  test('ENUM-01 unknown user, wrong password, pending and disabled accounts get one identical answer', async () => {
    const active = await activeAccount(server);
    const disabled = await activeAccount(server);
    await server.deps.db
      .updateTable('accounts')
      .set({ status: 'disabled' })
      .where('username_key', '=', disabled.username.toLowerCase())
      .execute();
    const pendingName = uniqueName('pend');
    const pendingPw = strongPassword();
    const reg = await server.client().post('/api/v1/registrations', {
      username: pendingName,
      email: `${pendingName}@example.test`,
      password: pendingPw,
    });
    assert.equal(reg.status, 202);

    const cases = {
      unknown: { identifier: uniqueName('ghost'), password: strongPassword() },
      unknownEmail: { identifier: `${uniqueName('ghost')}@example.test`, password: strongPassword() },
      wrongPassword: { identifier: active.username, password: strongPassword() },
      pending: { identifier: pendingName, password: pendingPw },
      disabled: { identifier: disabled.username, password: disabled.password },
    };
    const answers: Record<string, { status: number; body: string; headers: [string, string][] }> = {};
    for (const [name, body] of Object.entries(cases)) {
      const before = hashCalls();
      const res = await server.client().post('/api/v1/sessions', body);
      assert.ok(hashCalls() > before, `${name}: costs one hash`);
      const headers = [...res.headers.entries()].filter(([k]) => k !== 'date').sort();
      answers[name] = { status: res.status, body: res.text, headers };
    }
    const reference = answers.wrongPassword;
    assert.equal(reference.status, 401);
    assert.equal(JSON.parse(reference.body).code, 'invalid_credentials');
    for (const [name, a] of Object.entries(answers))
      assert.deepEqual(a, reference, `${name} answers like a wrong password`);

    // the HTML form answers identically too
    const pages = new Set<string>();
    for (const body of Object.values(cases)) {
      const res = await server.client().form('/login', body);
      pages.add(`${res.status}\n${res.text.replace(/value="[^"]*"/g, '')}`);
    }
    assert.equal(pages.size, 1, 'the /login page answers the same for every case');
  });

  test('sign in with username or email, whatever their case', async () => {
    const a = await activeAccount(server);
    for (const identifier of [
      a.username,
      a.username.toUpperCase(),
      a.email,
      a.email.toUpperCase().replace('EXAMPLE.TEST', 'Example.Test'),
    ]) {
      const res = await server.client().post('/api/v1/sessions', { identifier, password: a.password });
      assert.equal(res.status, 201, identifier);
    }
  });

  test('SES-01 the session token has >= 128 bits and only its SHA-256 is stored', async () => {
    const a = await activeAccount(server);
    const c = server.client();
    const res = await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    assert.equal(res.status, 201);
    const token = tokenOf(res);
    assert.ok(token.length >= 22, 'token at least 128 bits in base64url');
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    const rows = await server.deps.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', res.json.session.id)
      .execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0].token_hash, sha256(token));
    const everything = JSON.stringify(await server.deps.db.selectFrom('sessions').selectAll().execute());
    assert.ok(!everything.includes(token), 'the raw token is nowhere in the sessions table');
    const audit = JSON.stringify(await server.deps.db.selectFrom('audit_log').selectAll().execute());
    assert.ok(!audit.includes(token), 'nor in the audit log');
  });

  test('SES-02 a new token at every sign-in; unknown tokens and tokens in URLs are never adopted', async () => {
    const a = await activeAccount(server);
    const c = server.client();
    c.cookies.set(COOKIE, 'attacker-chosen-token-value-0123456789');
    const first = await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    const second = await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    const t1 = tokenOf(first);
    const t2 = tokenOf(second);
    assert.ok(t1 && t2 && t1 !== t2, 'each sign-in issues a fresh token');
    assert.notEqual(t1, 'attacker-chosen-token-value-0123456789');
    const fixated = server.client();
    fixated.cookies.set(COOKIE, 'attacker-chosen-token-value-0123456789');
    assert.equal((await fixated.get('/api/v1/sessions/current')).status, 401);
    const anon = server.client();
    for (const q of [`?${COOKIE}=${t2}`, `?session=${t2}`, `?token=${t2}`, `?sid=${t2}`]) {
      assert.equal((await anon.get(`/api/v1/sessions/current${q}`)).status, 401, q);
      const page = await anon.get(`/settings${q}`, { accept: 'text/html' });
      assert.equal(page.status, 303, `/settings${q} redirects to sign in`);
      assert.equal(page.headers.get('set-cookie'), null);
    }
    assert.equal((await anon.get('/api/v1/sessions/current', { authorization: `Bearer ${t2}` })).status, 401);
  });

  test('SES-03 cookie is HttpOnly, SameSite=Lax, Path=/, no Domain (plain http: no Secure)', async () => {
    const a = await activeAccount(server);
    const res = await server.client().post('/api/v1/sessions', { identifier: a.username, password: a.password });
    const attrs = setCookie(res)
      .split(';')
      .map((s) => s.trim().toLowerCase());
    assert.ok(attrs.includes('httponly'));
    assert.ok(attrs.includes('samesite=lax') || attrs.includes('samesite=strict'));
    assert.ok(attrs.includes('path=/'));
    assert.ok(!attrs.some((x) => x.startsWith('domain=')));
  });

  test('SES-04 sign-out ends the session on the server; authenticated responses are no-store', async () => {
    const a = await activeAccount(server);
    const c = await signedIn(server, a.username, a.password);
    const token = c.cookies.get(COOKIE) ?? '';
    const me = await c.get('/api/v1/sessions/current');
    assert.equal(me.status, 200);
    assert.equal(me.headers.get('cache-control'), 'no-store');
    const settings = await c.get('/settings', { accept: 'text/html' });
    assert.equal(settings.status, 200);
    assert.ok(settings.text.includes(a.username) && settings.text.includes(a.email), 'profile on /settings');
    assert.ok(settings.text.includes(`<code>${server.base}</code>`), 'service endpoint URL on /settings');
    assert.match(
      settings.text,
      /name="currentPassword"[^>]*type="password"|type="password"[^>]*name="currentPassword"/,
    );
    assert.equal(settings.headers.get('cache-control'), 'no-store');
    const out = await c.delete('/api/v1/sessions/current');
    assert.equal(out.status, 204);
    assert.equal(
      await server.deps.db
        .selectFrom('sessions')
        .select('id')
        .where('token_hash', '=', sha256(token))
        .executeTakeFirst(),
      undefined,
    );
    // replaying the old cookie gets nothing
    const replay = server.client();
    replay.cookies.set(COOKIE, token);
    assert.equal((await replay.get('/api/v1/sessions/current')).status, 401);

    // the HTML sign-out too
    const p = await signedIn(server, a.username, a.password);
    const ptoken = p.cookies.get(COOKIE) ?? '';
    const logout = await p.form('/logout', {});
    assert.equal(logout.status, 303);
    assert.equal(
      await server.deps.db
        .selectFrom('sessions')
        .select('id')
        .where('token_hash', '=', sha256(ptoken))
        .executeTakeFirst(),
      undefined,
    );
  });

  test('SES-06 a password change ends every other session and rotates the current one', async () => {
    const a = await activeAccount(server);
    const c = await signedIn(server, a.username, a.password);
    const other = await signedIn(server, a.username, a.password);
    const oldToken = c.cookies.get(COOKIE) ?? '';
    const newPassword = strongPassword();
    const res = await c.put('/api/v1/account/password', { currentPassword: a.password, newPassword });
    assert.equal(res.status, 200, res.text);
    const rotated = c.cookies.get(COOKIE) ?? '';
    assert.ok(rotated && rotated !== oldToken, 'the current session got a new token');
    assert.equal((await c.get('/api/v1/sessions/current')).status, 200, 'the changing browser stays signed in');
    assert.equal((await other.get('/api/v1/sessions/current')).status, 401, 'the other session is over');
    const stale = server.client();
    stale.cookies.set(COOKIE, oldToken);
    assert.equal((await stale.get('/api/v1/sessions/current')).status, 401, 'the pre-rotation token is dead');
    const list = await c.get('/api/v1/sessions');
    assert.equal(list.json.sessions.length, 1);
    // old password no longer works, the new one does
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: a.password })).status,
      401,
    );
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: newPassword })).status,
      201,
    );
  });

  test('SES-06 the settings form: current + new + confirm; a wrong current password changes nothing', async () => {
    const a = await activeAccount(server);
    const c = await signedIn(server, a.username, a.password);
    const other = await signedIn(server, a.username, a.password);
    const snap = await snapshot(server);
    const newPassword = strongPassword();
    const wrong = await c.form('/settings/password', {
      currentPassword: strongPassword(),
      newPassword,
      newPasswordConfirm: newPassword,
    });
    assert.ok(wrong.status >= 400 && wrong.status < 500, String(wrong.status));
    const mismatch = await c.form('/settings/password', {
      currentPassword: a.password,
      newPassword,
      newPasswordConfirm: `${newPassword}x`,
    });
    assert.ok(mismatch.status >= 400 && mismatch.status < 500, String(mismatch.status));
    assert.deepEqual(await snapshot(server), snap);
    assert.equal((await other.get('/api/v1/sessions/current')).status, 200);
    const ok = await c.form('/settings/password', {
      currentPassword: a.password,
      newPassword,
      newPasswordConfirm: newPassword,
    });
    assert.equal(ok.status, 303);
    assert.equal((await other.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await c.get('/settings', { accept: 'text/html' })).status, 200);
  });

  test('SES-08 a user lists their sessions and ends any of them, never someone else’s', async () => {
    const a = await activeAccount(server);
    const b = await activeAccount(server);
    const c1 = await signedIn(server, a.username, a.password);
    const c2 = await signedIn(server, a.username, a.password);
    const c3 = await signedIn(server, a.username, a.password);
    const mallory = await signedIn(server, b.username, b.password);
    const list = await c1.get('/api/v1/sessions');
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('cache-control'), 'no-store');
    assert.equal(list.json.sessions.length, 3);
    assert.equal(list.json.sessions.filter((s: { current: boolean }) => s.current).length, 1);
    const c2id = (await c2.get('/api/v1/sessions/current')).json.session.id;
    const c3id = (await c3.get('/api/v1/sessions/current')).json.session.id;
    // another account cannot end it
    assert.equal((await mallory.delete(`/api/v1/sessions/${c2id}`)).status, 404);
    assert.equal((await c2.get('/api/v1/sessions/current')).status, 200);
    assert.equal((await c1.delete(`/api/v1/sessions/${c2id}`)).status, 204);
    assert.equal((await c2.get('/api/v1/sessions/current')).status, 401);
    // via the settings page
    const page = await c1.get('/settings', { accept: 'text/html' });
    assert.ok(page.text.includes(`/settings/sessions/${c3id}/end`), 'each session has its own sign-out button');
    assert.equal((await c1.form(`/settings/sessions/${c3id}/end`, {})).status, 303);
    assert.equal((await c3.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await c1.get('/api/v1/sessions/current')).status, 200);
    // sign out everywhere
    const c4 = await signedIn(server, a.username, a.password);
    assert.equal((await c1.form('/settings/sessions/end-all', {})).status, 303);
    assert.equal((await c1.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await c4.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await mallory.get('/api/v1/sessions/current')).status, 200, 'other accounts are untouched');
  });

  test('PWD-01 one below the configured minimum is rejected with a reason; exactly the minimum is accepted', async () => {
    const snap = await snapshot(server);
    const short = await server.client().post('/api/v1/registrations', {
      username: uniqueName(),
      email: `${uniqueName()}@example.test`,
      password: 'Tq7#vMz2!pR',
    });
    assert.equal(short.status, 400);
    assert.equal(short.json.code, 'password_rejected');
    assert.ok(short.json.reasons.some((r: { code: string }) => r.code === 'too_short'));
    assert.deepEqual(await snapshot(server), snap);
    const exact = 'Tq7#vMz2!pRk';
    assert.equal([...exact].length, 12);
    const a = await activeAccount(server, { password: exact });
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: exact })).status,
      201,
    );
  });

  test('PWD-02 64+ characters accepted without truncation; 257 code points rejected; 1 MB gets a fast 413 and no hash', async () => {
    const long = `${strongPassword()}-${'longer-than-sixty-four-'.repeat(4)}`;
    assert.ok(long.length >= 64);
    const a = await activeAccount(server, { password: long });
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: long })).status,
      201,
    );
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: long.slice(0, 64) })).status,
      401,
      'no truncation',
    );
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: long.toUpperCase() })).status,
      401,
      'no case folding',
    );
    const cap = `${strongPassword()}-`.padEnd(256, 'x').replace(/x{10}/g, 'q4#Zk8!mWp');
    const capped = cap.slice(0, 256);
    assert.equal([...capped].length, 256);
    assert.equal(
      (
        await server.client().post('/api/v1/registrations', {
          username: uniqueName(),
          email: `${uniqueName()}@example.test`,
          password: capped,
        })
      ).status,
      202,
    );
    const tooLong = await server.client().post('/api/v1/registrations', {
      username: uniqueName(),
      email: `${uniqueName()}@example.test`,
      password: `${capped}z`,
    });
    assert.equal(tooLong.status, 400);
    assert.ok(tooLong.json.reasons.some((r: { code: string }) => r.code === 'too_long'));

    const snap = await snapshot(server);
    const before = hashCalls();
    const huge = 'a'.repeat(1024 * 1024);
    for (const [path, body] of [
      ['/api/v1/sessions', { identifier: a.username, password: huge }],
      ['/api/v1/registrations', { username: uniqueName(), email: 'h@example.test', password: huge }],
    ] as const) {
      const res = await server.client().post(path, body);
      assert.equal(res.status, 413, path);
      assert.equal(res.json.code, 'payload_too_large');
    }
    const c = await signedIn(server, a.username, long);
    const afterSignIn = hashCalls();
    assert.equal((await c.put('/api/v1/account/password', { currentPassword: long, newPassword: huge })).status, 413);
    const form = await server.client().form('/login', { identifier: a.username, password: huge });
    assert.equal(form.status, 413);
    assert.equal(hashCalls() - afterSignIn, 0, 'a 1 MB password never reaches the hasher');
    assert.equal(afterSignIn - before, 1, 'only the legitimate sign-in hashed');
    const snapAfter = await snapshot(server);
    assert.equal(snapAfter.accounts, snap.accounts);
    assert.equal(snapAfter.sessions, snap.sessions + 1);
  });

  test('PWD-03 any Unicode, length in code points, NFC: an NFD password signs in after NFC registration', async () => {
    const nfc = `Ça-déjà-vu-${strongPassword()}-\u00e9t\u00e9`.normalize('NFC');
    const nfd = nfc.normalize('NFD');
    assert.notEqual(nfc, nfd);
    const a = await activeAccount(server, { password: nfc });
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: nfd })).status,
      201,
    );
    // emoji are one code point each (two UTF-16 units): 12 emoji meet a minimum of 12, 11 do not
    const emoji = '🦊🐙🌵🚀🎻🧲🪁🦉🍄🌋🧊🪐';
    assert.equal([...emoji].length, 12);
    assert.equal(emoji.length, 24);
    const ok = await activeAccount(server, { password: emoji });
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: ok.username, password: emoji })).status,
      201,
    );
    const short = await server.client().post('/api/v1/registrations', {
      username: uniqueName(),
      email: `${uniqueName()}@example.test`,
      password: [...emoji].slice(0, 11).join(''),
    });
    assert.equal(short.status, 400);
    assert.ok(short.json.reasons.some((r: { code: string }) => r.code === 'too_short'));
    // no composition rules: a long all-lowercase passphrase is fine
    await activeAccount(server, { password: 'correct lantern orbit velvet canyon whistle' });
  });

  test('PWD-07 hashing runs off the event loop: health answers while sign-ins are hashing', async () => {
    const a = await activeAccount(server);
    const order: string[] = [];
    const signIns = Array.from({ length: 8 }, () =>
      server
        .client()
        .post('/api/v1/sessions', { identifier: a.username, password: strongPassword() })
        .then((r) => order.push(`signin:${r.status}`)),
    );
    // let the sign-ins reach the hasher first
    await new Promise((r) => setImmediate(r));
    const health = server
      .client()
      .get('/healthz')
      .then((r) => order.push(`health:${r.status}`));
    await Promise.all([...signIns, health]);
    assert.equal(order.length, 9);
    assert.ok(
      order.indexOf('health:200') < order.length - 1,
      `health answered before the hashing finished: ${order.join(' ')}`,
    );
  });

  test('PWD-07 hashes are argon2id m=19456,t=2,p=1 with a per-hash salt; older parameters are upgraded on sign-in', async () => {
    const samePw = strongPassword();
    const a = await activeAccount(server, { password: samePw });
    const b = await activeAccount(server, { password: samePw });
    const rows = await server.deps.db
      .selectFrom('accounts')
      .select(['username', 'password_hash'])
      .where('username', 'in', [a.username, b.username])
      .execute();
    for (const r of rows) assert.match(r.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.notEqual(rows[0].password_hash, rows[1].password_hash, 'per-hash salt');
    const old = await argonHash(samePw, { algorithm: 2, memoryCost: 8192, timeCost: 3, parallelism: 1 } as Parameters<
      typeof argonHash
    >[1]);
    assert.match(old, /m=8192,t=3,p=1/);
    await server.deps.db
      .updateTable('accounts')
      .set({ password_hash: old })
      .where('username', '=', a.username)
      .execute();
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: samePw })).status,
      201,
    );
    const upgraded = await server.deps.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('username', '=', a.username)
      .executeTakeFirstOrThrow();
    assert.match(upgraded.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: a.username, password: samePw })).status,
      201,
    );
  });
});
