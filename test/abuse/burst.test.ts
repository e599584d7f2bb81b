import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type ChildServer, spawnLatchkey } from '../recovery/helpers.ts';
import { needs, REDIS_URL } from '../support/env.ts';
import { Client, type Res } from '../support/http.ts';
import { freshPostgres, postgresAvailable } from '../support/pg.ts';
import { dropRedisPrefix, redisAvailable } from '../support/redis.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { createAccounts, solveAltcha } from './helpers.ts';

// BF-06: a burst of parallel attempts for one account from one IP, with the real defaults (3
// attempts before the CAPTCHA step-up, lockout after 10). Every attempt is counted before its
// hash runs, so the burst gets no more password checks than the thresholds allow, and the right
// password in the middle of it never signs in. Hashes are counted on the hasher itself.

const CAPTCHA_AFTER = 3;
const LOCK_AFTER = 10;

const hashes = (servers: TestServer[]) =>
  servers.reduce((n, s) => n + s.deps.hasher.hashesRun.verify + s.deps.hasher.hashesRun.burn, 0);
const verifies = (servers: TestServer[]) => servers.reduce((n, s) => n + s.deps.hasher.hashesRun.verify, 0);

async function signedIn(servers: TestServer[], username: string): Promise<number> {
  const db = servers[0].deps.db;
  const account = await db
    .selectFrom('accounts')
    .select('id')
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
  const rows = await db
    .selectFrom('audit_log')
    .select('id')
    .where('event', '=', 'sign_in.succeeded')
    .where('account_id', '=', account.id)
    .execute();
  return rows.length;
}

/** `n` parallel attempts for `username` from `ip`, spread over `servers`; the one at `rightAt` carries the right password. */
async function burst(
  servers: TestServer[],
  o: { username: string; ip: string; n: number; rightAt: number; password: string; captchas?: string[] },
): Promise<{ answers: Res[]; hashesRun: number; checks: number }> {
  const [h0, v0] = [hashes(servers), verifies(servers)];
  const answers = await Promise.all(
    Array.from({ length: o.n }, (_, i) =>
      servers[i % servers.length].client({ headers: { 'x-forwarded-for': o.ip } }).post('/api/v1/sessions', {
        identifier: o.username,
        password: i === o.rightAt ? o.password : `wrong-guess-${i}`,
        ...(o.captchas ? { captcha: o.captchas[i] } : {}),
      }),
    ),
  );
  return { answers, hashesRun: hashes(servers) - h0, checks: verifies(servers) - v0 };
}

const codes = (answers: Res[]) => answers.map((r) => (r.status === 401 ? 401 : `${r.status} ${r.json?.code}`));

function assertStepUpHeld(r: { answers: Res[]; hashesRun: number }, n: number) {
  const c = codes(r.answers);
  assert.equal(
    c.filter((x) => x === '201 undefined' || String(x).startsWith('201')).length,
    0,
    'no attempt of the burst signs in',
  );
  // Only the attempts counted before the step-up are checked; each of them answers 401.
  assert.ok(r.hashesRun <= CAPTCHA_AFTER, `${r.hashesRun} hashes for ${n} attempts`);
  assert.equal(c.filter((x) => x === 401).length, r.hashesRun);
  // The rest are refused before any hashing: CAPTCHA required, or the per-IP limit (100/10m).
  assert.ok(
    c.every((x) => x === 401 || x === '400 captcha_required' || x === '429 rate_limited'),
    JSON.stringify(c),
  );
  assert.ok(c.filter((x) => x === '400 captcha_required').length >= Math.min(n, 100) - CAPTCHA_AFTER);
}

async function captchaBurst(servers: TestServer[], username: string, ip: string, password: string) {
  const n = 30;
  const captchas: string[] = [];
  for (let i = 0; i < n; i++) captchas.push(await solveAltcha(servers[i % servers.length].base));
  const r = await burst(servers, { username, ip, n, rightAt: 25, password, captchas });
  const c = codes(r.answers);
  assert.ok(
    c.every((x) => x === 401),
    JSON.stringify(c),
  );
  // Ten real password checks before the lock; the rest spend the same work on the dummy hash.
  assert.ok(r.checks <= LOCK_AFTER, `${r.checks} password checks`);
  assert.equal(r.hashesRun, n, 'every attempt still pays one hash (ENUM-01)');
  assert.equal(await signedIn(servers, username), 0);
  await Promise.all(servers.map((s) => s.deps.guard.settled?.()));
  const locked = await servers[0].deps.db
    .selectFrom('audit_log')
    .select('details')
    .where('event', '=', 'sign_in.locked')
    .execute();
  assert.ok(
    locked.some((l) => /"failures":10\b/.test(l.details ?? '')),
    'the lockout was recorded',
  );
  // Once the burst is over the account stays locked: the right password fails like a wrong one.
  const again = await servers[0]
    .client({ headers: { 'x-forwarded-for': ip } })
    .post('/api/v1/sessions', { identifier: username, password, captcha: await solveAltcha(servers[0].base) });
  assert.equal(again.status, 401);
}

const ENV = {
  LATCHKEY_CAPTCHA: 'altcha',
  LATCHKEY_ALTCHA_MAX_NUMBER: '1000',
  LATCHKEY_RATE_LIMIT_SCALE: '1',
  LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
};

describe('BF-06 parallel sign-in attempts on one process (SQLite)', () => {
  let server: TestServer;
  const password = strongPassword();
  before(async () => {
    server = await startTestServer(ENV);
    await createAccounts(server, ['burst60', 'burst200', 'burstcap', 'burstmix'], password);
  });
  after(async () => server?.close());

  test('BF-06 a burst of 60 parallel attempts gets at most 3 password checks, and its right password never signs in', async () => {
    const r = await burst([server], { username: 'burst60', ip: '203.0.113.60', n: 60, rightAt: 30, password });
    assertStepUpHeld(r, 60);
    assert.equal(await signedIn([server], 'burst60'), 0);
    // The same count is public to operators as a metric.
    const metrics = (await server.client().get('/metrics')).text;
    assert.match(
      metrics,
      new RegExp(`latchkey_password_hashes_total\\{kind="verify"\\} ${server.deps.hasher.hashesRun.verify}\\n`),
    );
  });

  test('BF-06 a burst of 200 parallel attempts gets at most 3 password checks, and its right password never signs in', async () => {
    const r = await burst([server], { username: 'burst200', ip: '203.0.113.200', n: 200, rightAt: 100, password });
    assertStepUpHeld(r, 200);
    assert.equal(await signedIn([server], 'burst200'), 0);
  });

  test('BF-06 BF-01 a burst where every attempt carries a valid CAPTCHA stops at the lockout: 10 checks, then locked', async () => {
    await captchaBurst([server], 'burstcap', '203.0.113.30', password);
  });

  test('BF-06 a burst mixing spellings of one account gets one step-up per identifier and one lockout in all', async () => {
    // Case, spaces, full-width and compatibility forms of the username and of the email; every
    // attempt from an address of its own, so only the per-identifier count can hold them.
    const usernames = [
      'burstmix',
      'BURSTMIX',
      ' BurstMix ',
      '\uff42\uff55\uff52\uff53\uff54\uff4d\uff49\uff58',
      'burstmix\u00a0',
      '\uff22URSTMIX',
    ];
    const emails = [
      'burstmix@example.test',
      'BURSTMIX@EXAMPLE.TEST',
      'burstmix\uff20example.test',
      'burstmix@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0etest',
      'burstmix@example.test.',
      ' BurstMix@Example.Test ',
    ];
    let ipN = 0;
    const attempt = (identifier: string, captcha?: string) =>
      server
        .client({ headers: { 'x-forwarded-for': `10.77.${++ipN >> 8}.${ipN & 255}` } })
        .post('/api/v1/sessions', { identifier, password: `wrong-guess-${ipN}`, ...(captcha ? { captcha } : {}) });
    const v0 = verifies([server]);
    for (const spellings of [usernames, emails]) {
      const before = verifies([server]);
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt(spellings[i % spellings.length])));
      const c = codes(answers);
      // Every spelling of the identifier shares one step-up: no more checks than one identifier gets.
      assert.ok(
        verifies([server]) - before <= CAPTCHA_AFTER,
        `${verifies([server]) - before} checks: ${JSON.stringify(c)}`,
      );
      assert.ok(c.filter((x) => x === '400 captcha_required').length >= 30 - CAPTCHA_AFTER, JSON.stringify(c));
    }
    // With valid CAPTCHAs, every spelling of both counts against the account's one lockout.
    const all = [...usernames, ...emails];
    const captchas: string[] = [];
    for (let i = 0; i < 24; i++) captchas.push(await solveAltcha(server.base));
    const answers = await Promise.all(captchas.map((captcha, i) => attempt(all[i % all.length], captcha)));
    assert.ok(
      codes(answers).every((x) => x === 401),
      JSON.stringify(codes(answers)),
    );
    assert.ok(verifies([server]) - v0 <= LOCK_AFTER, `${verifies([server]) - v0} password checks in all`);
    // Locked for every spelling: the right password fails like a wrong one.
    const right = await server.client({ headers: { 'x-forwarded-for': '10.78.0.1' } }).post('/api/v1/sessions', {
      identifier: '\uff42urstmix@example.test',
      password,
      captcha: await solveAltcha(server.base),
    });
    assert.equal(right.status, 401);
    assert.equal(await signedIn([server], 'burstmix'), 0);
  });
});

describe('BF-06 parallel sign-in attempts on two processes (PostgreSQL + Redis)', () => {
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  let available = false;
  const prefix = `latchkey-test-${randomBytes(6).toString('hex')}`;
  const password = strongPassword();
  before(async () => {
    available = (await redisAvailable()) && (await postgresAvailable());
    if (!available) return;
    pg = await freshPostgres();
    const env = { ...ENV, LATCHKEY_DATABASE_URL: pg.url, LATCHKEY_REDIS_URL: REDIS_URL, LATCHKEY_REDIS_PREFIX: prefix };
    a = await startTestServer(env);
    b = await startTestServer(env);
    await createAccounts(a, ['pgburst60', 'pgburst200', 'pgburstcap'], password);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await pg?.drop();
    if (available) await dropRedisPrefix(prefix);
  });

  test('BF-06 60 parallel attempts spread over two processes get at most 3 password checks in all', async (t) => {
    if (!needs(t, 'Redis and PostgreSQL', available) || !a || !b) return;
    const r = await burst([a, b], { username: 'pgburst60', ip: '198.51.100.60', n: 60, rightAt: 30, password });
    assertStepUpHeld(r, 60);
    assert.equal(await signedIn([a], 'pgburst60'), 0);
  });

  test('BF-06 200 parallel attempts spread over two processes get at most 3 password checks in all', async (t) => {
    if (!needs(t, 'Redis and PostgreSQL', available) || !a || !b) return;
    const r = await burst([a, b], { username: 'pgburst200', ip: '198.51.100.200', n: 200, rightAt: 100, password });
    assertStepUpHeld(r, 200);
    assert.equal(await signedIn([a], 'pgburst200'), 0);
  });

  test('BF-06 BF-01 with valid CAPTCHAs on both processes the burst stops at the lockout: 10 checks in all', async (t) => {
    if (!needs(t, 'Redis and PostgreSQL', available) || !a || !b) return;
    await captchaBurst([a, b], 'pgburstcap', '198.51.100.30', password);
  });
});

/** Hashes a separate `latchkey serve` process ran, read from its own /metrics (open in development). */
async function childHashes(base: string): Promise<{ verify: number; burn: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (kind: string) => {
    const m = new RegExp(`^latchkey_password_hashes_total\\{kind="${kind}"\\} (\\d+)`, 'm').exec(text);
    assert.ok(m, `the child reports latchkey_password_hashes_total{kind="${kind}"}`);
    return Number(m[1]);
  };
  return { verify: read('verify'), burn: read('burn') };
}

describe('BF-06 parallel sign-in attempts on two OS processes (PostgreSQL + Redis)', () => {
  let a: TestServer | undefined;
  let child: ChildServer | undefined;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  let available = false;
  const prefix = `latchkey-test-${randomBytes(6).toString('hex')}`;
  const password = strongPassword();
  before(async () => {
    available = (await redisAvailable()) && (await postgresAvailable());
    if (!available) return;
    pg = await freshPostgres();
    const env = { ...ENV, LATCHKEY_DATABASE_URL: pg.url, LATCHKEY_REDIS_URL: REDIS_URL, LATCHKEY_REDIS_PREFIX: prefix };
    a = await startTestServer(env);
    await createAccounts(a, ['osburst60', 'osburst200'], password);
    child = await spawnLatchkey(env);
  });
  after(async () => {
    await child?.kill();
    await a?.close();
    await pg?.drop();
    if (available) await dropRedisPrefix(prefix);
  });

  async function osBurst(username: string, ip: string, n: number, rightAt: number) {
    if (!a || !child) throw new Error('servers not started');
    const here = a;
    const there = new Client(child.base, child.base, { 'x-forwarded-for': ip });
    const before = {
      here: here.deps.hasher.hashesRun.verify + here.deps.hasher.hashesRun.burn,
      there: await childHashes(child.base),
    };
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        (i % 2 ? there : here.client({ headers: { 'x-forwarded-for': ip } })).post('/api/v1/sessions', {
          identifier: username,
          password: i === rightAt ? password : `wrong-guess-${i}`,
        }),
      ),
    );
    const after = await childHashes(child.base);
    const hashesRun =
      here.deps.hasher.hashesRun.verify +
      here.deps.hasher.hashesRun.burn -
      before.here +
      (after.verify + after.burn - before.there.verify - before.there.burn);
    return { answers, hashesRun };
  }

  test('BF-06 60 parallel attempts over two OS processes get at most 3 password checks in all', async (t) => {
    if (!needs(t, 'Redis and PostgreSQL', available) || !a) return;
    const r = await osBurst('osburst60', '198.51.100.61', 60, 31);
    assertStepUpHeld(r, 60);
    assert.equal(await signedIn([a], 'osburst60'), 0);
  });

  test('BF-06 200 parallel attempts over two OS processes get at most 3 password checks in all', async (t) => {
    if (!needs(t, 'Redis and PostgreSQL', available) || !a) return;
    const r = await osBurst('osburst200', '198.51.100.201', 200, 101);
    assertStepUpHeld(r, 200);
    assert.equal(await signedIn([a], 'osburst200'), 0);
  });
});
