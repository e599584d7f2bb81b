import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { AppError } from '../../src/errors.ts';
import { fromDependency, isOutage, outageOf } from '../../src/store/outage.ts';
import { toAppError } from '../../src/web/errors.tsx';
import { activeAccount } from '../support/accounts.ts';
import { needs } from '../support/env.ts';
import { freePort, startTestServer, strongPassword, type TestServer } from '../support/server.ts';

// AV-01/AV-02 for the other dependencies: which errors count as "unavailable", SQLite locked by
// another process past its busy timeout, and a Redis that stops answering.

const sysError = (code: string) =>
  Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code, errno: -1, syscall: 'connect' });

test('AV-01 outages are told from other errors by code and class, and map to 503 with Retry-After', () => {
  const pgError = (code: string) => Object.assign(new pg.DatabaseError('x', 1, 'error'), { code });
  const sqliteError = (code: string) => new SQLite.SqliteError('x', code);
  const cases: [string, unknown, string | undefined][] = [
    ['pg admin shutdown', pgError('57P01'), 'postgres'],
    ['pg cannot connect now', pgError('57P03'), 'postgres'],
    ['pg statement timeout', pgError('57014'), 'postgres'],
    ['pg connection failure', pgError('08006'), 'postgres'],
    ['pg too many connections', pgError('53300'), 'postgres'],
    ['pg unique violation', pgError('23505'), undefined],
    ['pg syntax error', pgError('42601'), undefined],
    ['pg client read timeout', new Error('Query read timeout'), 'postgres'],
    ['pg pool wait timeout', new Error('timeout exceeded when trying to connect'), 'postgres'],
    [
      'pg connect timeout',
      new Error('Connection terminated due to connection timeout', { cause: new Error('timeout expired') }),
      'postgres',
    ],
    ['refused, from the store', fromDependency(sysError('ECONNREFUSED'), 'postgres'), 'postgres'],
    ['refused, untagged', sysError('ECONNREFUSED'), 'unknown'],
    ['reset', sysError('ECONNRESET'), 'unknown'],
    ['refused on every address', new AggregateError([sysError('ECONNREFUSED'), sysError('ECONNREFUSED')]), 'unknown'],
    ['sqlite busy', sqliteError('SQLITE_BUSY'), 'sqlite'],
    ['sqlite locked', sqliteError('SQLITE_LOCKED'), 'sqlite'],
    ['sqlite disk full', sqliteError('SQLITE_FULL'), 'sqlite'],
    ['sqlite constraint', sqliteError('SQLITE_CONSTRAINT_UNIQUE'), undefined],
    ['redis command timeout', new Error('Command timed out'), 'redis'],
    ['redis closed', new Error('Connection is closed.'), 'redis'],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')"), undefined],
    ['an error mentioning a timeout', new Error('timeout while parsing'), undefined],
    ['an app error', new AppError('conflict'), undefined],
    ['not an error', 'ECONNREFUSED', undefined],
  ];
  for (const [what, err, dependency] of cases) {
    assert.equal(outageOf(err), dependency, what);
    const mapped = toAppError(err);
    if (dependency) {
      assert.equal(mapped.status, 503, what);
      assert.equal(mapped.code, 'service_unavailable', what);
      assert.ok((mapped.extra.retryAfter ?? 0) >= 1, `${what}: Retry-After`);
    } else assert.notEqual(mapped.status, 503, what);
  }
  assert.equal(isOutage(sysError('EPIPE')), true);
});

describe('AV-01 SQLite locked by another process', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LATCHKEY_DB_BUSY_TIMEOUT: '1s' });
  });
  after(async () => {
    await server.close();
  });

  test('AV-01 SQLite locked beyond the busy timeout: writes answer 503 with Retry-After, then work again', async () => {
    const user = await activeAccount(server);
    const c = server.client();
    assert.equal(
      (await c.post('/api/v1/sessions', { identifier: user.username, password: user.password })).status,
      201,
    );
    const blocker = new SQLite(server.databaseUrl);
    const register = (name: string) =>
      server
        .client()
        .post('/api/v1/registrations', { username: name, email: `${name}@example.test`, password: strongPassword() });
    try {
      blocker.exec('BEGIN IMMEDIATE'); // holds the write lock, as a long migration or backup would
      const res = await register(`locked${process.pid}`);
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json.code, 'service_unavailable');
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      // Reads do not wait for the writer (WAL): signed-in people are not locked out meanwhile.
      const me = await c.get('/api/v1/sessions/current');
      assert.equal(me.status, 200, me.text);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    assert.equal((await register(`unlocked${process.pid}`)).status, 202);
  });
});

describe('AV-02 Redis that stops answering', () => {
  let redis: ChildProcess | undefined;
  let server: TestServer | undefined;
  before(async () => {
    if (!needs(undefined, 'redis-server', existsSync('/usr/bin/redis-server'))) return;
    // A Redis of this file's own: the shared one on 6379 is never frozen.
    const port = await freePort();
    redis = spawn(
      '/usr/bin/redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const url = `redis://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        server = await startTestServer({ LATCHKEY_REDIS_URL: url, LATCHKEY_REDIS_TIMEOUT: '1s' });
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 100)); // redis-server still starting
      }
    }
  });
  after(async () => {
    redis?.kill('SIGCONT');
    await server?.close();
    redis?.kill('SIGKILL');
  });

  test('AV-02 Redis frozen (SIGSTOP): sign-in answers within the Redis timeout instead of hanging', async (t) => {
    if (!server || !redis) return t.skip('no redis-server');
    const s = server;
    const user = await activeAccount(s);
    redis.kill('SIGSTOP');
    const thaw = setTimeout(() => redis?.kill('SIGCONT'), 20_000); // old code hangs until then
    let res: Awaited<ReturnType<ReturnType<TestServer['client']>['post']>>;
    try {
      res = await s.client().post('/api/v1/sessions', { identifier: user.username, password: user.password });
    } finally {
      clearTimeout(thaw);
      redis.kill('SIGCONT');
    }
    assert.ok(res.ms < 8000, `answered after ${Math.round(res.ms)} ms`);
    assert.equal(res.status, 201, res.text);
  });
});
