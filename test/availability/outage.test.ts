import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { isOutage } from '../../src/store/outage.ts';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { needs } from '../support/env.ts';
import type { Client, Res } from '../support/http.ts';
import { type PgCluster, pgClusterAvailable, startPgCluster } from '../support/pg-cluster.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

// AV-01 and AV-02 against a PostgreSQL cluster this file starts for itself (the shared server on
// 5432 is never stopped or frozen), with short timeouts so the outages answer quickly. Time
// bounds are generous upper limits: what they tell apart is "answers within the timeouts" from
// "hangs until the database comes back" (old code: the whole freeze), never a tight figure.

// Short, but not so short that a loaded test machine looks like an outage while setting up.
// A server that does not answer at all is given up after the statement timeout plus 1 s.
const TIMEOUTS = { LATCHKEY_DB_CONNECT_TIMEOUT: '3s', LATCHKEY_DB_STATEMENT_TIMEOUT: '2s' };
const FREEZE_MS = 40_000; // how long the freeze would last if nothing answered
const ANSWER_BOUND_MS = 15_000;

async function unavailableMetric(server: TestServer): Promise<number> {
  const m = await server.deps.metrics.registry.getSingleMetric('latchkey_dependency_unavailable_total')?.get();
  return (m?.values ?? []).filter((v) => v.labels.dependency === 'postgres').reduce((a, v) => a + v.value, 0);
}

function assertUnavailable(res: Res, what: string): void {
  assert.equal(res.status, 503, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
  assert.ok(Number(res.headers.get('retry-after')) >= 1, `${what}: Retry-After`);
  if (res.headers.get('content-type')?.startsWith('text/html')) {
    assert.match(res.text, /Temporarily unavailable/, `${what}: a friendly page`);
  } else {
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/, `${what}: a problem document`);
    assert.equal(res.json.code, 'service_unavailable', what);
    assert.equal(res.json.status, 503, what);
  }
}

/** Polls until `ok` holds (the service resumes by itself), failing after `ms`. */
async function eventually(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs `fn` again (up to 3 times) when it fails: set-up steps on a loaded machine. */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 3) throw err;
    }
  }
}

describe('AV-01/AV-02 PostgreSQL outages', () => {
  let cluster: PgCluster | undefined;
  let server: TestServer | undefined;
  let user: { username: string; email: string; password: string };
  let session: Client;

  before(async () => {
    if (!needs(undefined, 'a private PostgreSQL cluster (initdb, pg_ctl)', pgClusterAvailable())) return;
    cluster = await startPgCluster();
    const s = await startTestServer({ LATCHKEY_DATABASE_URL: cluster.url, ...TIMEOUTS });
    server = s;
    user = await retried(() => activeAccount(s));
    session = await retried(() => signedIn(s, user.username, user.password));
  });
  after(async () => {
    await server?.close();
    await cluster?.destroy();
  });

  /** The requests the issue found failing: session check, sign-in, reset request, and pages. */
  const requests = (s: TestServer) => ({
    'session check': () => session.get('/api/v1/sessions/current'),
    'sign-in': () => s.client().post('/api/v1/sessions', { identifier: user.username, password: user.password }),
    'reset request': () => s.client().post('/api/v1/password-resets', { identifier: user.email }),
    'sign-in page': () => s.client().form('/login', { identifier: user.username, password: user.password }),
    'settings page': () => session.get('/settings', { accept: 'text/html' }),
  });

  /** The service is back by itself: the same session, a new sign-in, a reset request. */
  async function resumes(s: TestServer): Promise<void> {
    await eventually('/readyz 200', async () => (await s.client().get('/readyz')).status === 200);
    // every connection of the pool at once: none is a broken one handed back
    await eventually('12 parallel session checks 200', async () => {
      const all = await Promise.all(Array.from({ length: 12 }, () => session.get('/api/v1/sessions/current')));
      return all.every((r) => r.status === 200 && r.json.account.username === user.username);
    });
    const signIn = () => s.client().post('/api/v1/sessions', { identifier: user.email, password: user.password });
    await eventually('sign-in 201', async () => (await signIn()).status === 201);
    const reset = () => s.client().post('/api/v1/password-resets', { identifier: user.email });
    await eventually('reset request 202', async () => (await reset()).status === 202);
  }

  test('AV-01 PostgreSQL stopped: session check, sign-in and reset answer 503 with Retry-After, /readyz 503, and service resumes when it returns', async (t) => {
    if (!server || !cluster) return t.skip('no private PostgreSQL cluster');
    const s = server;
    const before503 = await unavailableMetric(s);
    await cluster.stop();
    try {
      for (const [what, send] of Object.entries(requests(s))) assertUnavailable(await send(), what);
      assert.equal((await s.client().get('/readyz')).status, 503, '/readyz');
      // Bad input is still the client's fault, outage or not.
      const bad = await s.client().post('/api/v1/sessions', { identifier: user.username });
      assert.equal(bad.status, 400, bad.text);
      const garbled = await s
        .client()
        .post('/api/v1/sessions', '{"identifier":', { 'content-type': 'application/json' });
      assert.equal(garbled.status, 400, garbled.text);
      assert.ok((await unavailableMetric(s)) >= before503 + 5, 'the 503s are counted under dependency="postgres"');
    } finally {
      await cluster.start();
    }
    await resumes(s);
  });

  test('AV-01 PostgreSQL stopped under an open transaction: that work fails as an outage, the process lives on', async (t) => {
    if (!server || !cluster) return t.skip('no private PostgreSQL cluster');
    const s = server;
    const c = cluster;
    await eventually('session check 200', async () => (await session.get('/api/v1/sessions/current')).status === 200);
    // The connection is checked out and idle between two statements when the server goes away;
    // an 'error' event nobody listened for was an uncaught exception that ended the process.
    let failure: unknown;
    try {
      await s.deps.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        await c.stop();
        await new Promise((r) => setTimeout(r, 300));
        await sql`select 1`.execute(trx);
      });
    } catch (err) {
      failure = err;
    } finally {
      await c.start();
    }
    assert.ok(isOutage(failure), `an outage error, not ${String(failure)}`);
    await resumes(s);
  });

  test('AV-02 PostgreSQL frozen (SIGSTOP): requests answer 503 within the statement timeout', async (t) => {
    if (!server || !cluster) return t.skip('no private PostgreSQL cluster');
    const s = server;
    const c = cluster;
    // Warm the pool, so the freeze catches open connections as well as new ones.
    await eventually('session check 200', async () => (await session.get('/api/v1/sessions/current')).status === 200);
    c.freeze();
    // Old code hangs until the database thaws; never leave it frozen beyond FREEZE_MS.
    const thaw = setTimeout(() => c.thaw(), FREEZE_MS);
    let answers: { what: string; res: Res }[];
    try {
      answers = await Promise.all([
        ...Object.entries(requests(s)).map(async ([what, send]) => ({ what, res: await send() })),
        (async () => ({ what: '/readyz', res: await s.client().get('/readyz') }))(),
      ]);
    } finally {
      clearTimeout(thaw);
      c.thaw();
    }
    for (const { what, res } of answers) {
      assert.ok(res.ms < ANSWER_BOUND_MS, `${what} answered after ${Math.round(res.ms)} ms (freeze ${FREEZE_MS} ms)`);
      if (what === '/readyz') assert.equal(res.status, 503, '/readyz');
      else assertUnavailable(res, what);
    }
    console.log(`# frozen: answered after ${answers.map((a) => `${a.what} ${Math.round(a.res.ms)} ms`).join(', ')}`);
    await resumes(s);
  });
});

/**
 * Opens a raw connection, sends `head`, then one `drip` every `everyMs`, like a slow-loris client.
 * Resolves when the server closes the connection (with what it answered), or after `giveUpMs`.
 */
function trickle(port: number, head: string, drip: string, everyMs: number, giveUpMs: number) {
  return new Promise<{ closedAfterMs?: number; answer: string }>((resolve) => {
    const t0 = performance.now();
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(drip);
    }, everyMs);
    const giveUp = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      resolve({ answer });
    }, giveUpMs);
    socket.on('data', (b) => {
      answer += b.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ closedAfterMs: performance.now() - t0, answer });
    });
  });
}

describe('AV-02 slow clients', () => {
  let server: TestServer;
  const GIVE_UP_MS = 12_000;
  before(async () => {
    server = await startTestServer({ LATCHKEY_REQUEST_TIMEOUT: '2s', LATCHKEY_HEADERS_TIMEOUT: '1s' });
  });
  after(async () => {
    await server.close();
  });

  test('AV-02 a slow request body is cut off', async () => {
    const port = server.deps.config.port;
    const head =
      'POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Origin: ${server.base}\r\nContent-Length: 1000\r\n\r\n{`;
    // Ten sockets, one body byte each every 500 ms: the issue's probe, faster.
    const results = await Promise.all(Array.from({ length: 10 }, () => trickle(port, head, ' ', 500, GIVE_UP_MS)));
    for (const r of results) {
      assert.ok(r.closedAfterMs !== undefined, `still open after ${GIVE_UP_MS} ms`);
      assert.ok(r.closedAfterMs < 10_000, `closed after ${Math.round(r.closedAfterMs)} ms`);
      if (r.answer) assert.match(r.answer, /^HTTP\/1\.1 408 /, 'a timeout, never a 5xx');
    }
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200, 'the server still serves');
  });

  test('AV-02 slow request headers are cut off', async () => {
    const port = server.deps.config.port;
    const results = await Promise.all([
      // headers that never end
      ...Array.from({ length: 5 }, () =>
        trickle(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: 1\r\n', 500, GIVE_UP_MS),
      ),
      // a connection that never sends anything
      trickle(port, '', '', 500, GIVE_UP_MS),
    ]);
    for (const r of results) {
      assert.ok(r.closedAfterMs !== undefined, `still open after ${GIVE_UP_MS} ms`);
      assert.ok(r.closedAfterMs < 10_000, `closed after ${Math.round(r.closedAfterMs)} ms`);
      if (r.answer) assert.match(r.answer, /^HTTP\/1\.1 408 /, 'a timeout, never a 5xx');
    }
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200, 'the server still serves');
  });
});
