import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { createAccounts } from './helpers.ts';

// AV-03: the lockout lives in the database, so a Redis outage forgets none. The test runs its
// own throwaway Redis (never the shared one) and stops it under a running server.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    const up = await r.connect().then(
      () => r.ping().then(() => true),
      () => false,
    );
    r.disconnect();
    if (up) return child;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

function shape(r: { status: number; text: string; headers: Headers }) {
  const h = Object.fromEntries(
    [...r.headers].filter(([k]) => !['date', 'content-length', 'keep-alive', 'connection'].includes(k)),
  );
  return { status: r.status, body: r.text, headers: h };
}

describe('AV-03 lockouts survive a Redis outage', () => {
  let server: TestServer;
  let redis: ChildProcess | undefined;
  let port = 0;
  const password = strongPassword();
  before(async () => {
    port = await freePort();
    redis = await startRedis(port);
    server = await startTestServer({
      LATCHKEY_REDIS_URL: `redis://127.0.0.1:${port}`,
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
      LATCHKEY_LIMIT_SIGN_IN_IP: '5/10m',
    });
    await createAccounts(server, ['durable1', 'durable2'], password);
  });
  after(async () => {
    await server?.close();
    if (redis) await stopRedis(redis);
  });

  let ipN = 0;
  const attempt = (identifier: string, pw: string) =>
    server
      .client({ headers: { 'x-forwarded-for': `192.0.2.${++ipN}` } })
      .post('/api/v1/sessions', { identifier, password: pw });
  const degradedMetric = async () =>
    /latchkey_degraded\{dependency="redis"\} (\d)/.exec((await server.client().get('/metrics')).text)?.[1];
  async function until(check: () => Promise<boolean>, what: string) {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await sleep(50);
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  test('AV-03 BF-01 an account locked while Redis was up stays locked once Redis is down; /readyz and a metric say degraded', async () => {
    const ready = await server.client().get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { status: 'ready', degraded: [] });
    assert.equal(await degradedMetric(), '0');
    for (let i = 0; i < 10; i++) assert.equal((await attempt('durable1', 'not-the-password')).status, 401);

    if (redis) await stopRedis(redis);
    await until(async () => (await server.client().get('/readyz')).json?.degraded?.length > 0, 'the degraded state');
    const degraded = await server.client().get('/readyz');
    assert.equal(degraded.status, 200, 'still ready: the balancer keeps the process');
    assert.deepEqual(degraded.json, { status: 'ready', degraded: ['redis'] });
    assert.equal(await degradedMetric(), '1');

    const right = await attempt('durable1', password);
    const wrong = await attempt('durable1', 'still-not-it');
    assert.equal(right.status, 401, 'the lockout is not forgotten');
    assert.deepEqual(shape(right), shape(wrong));
    // Sign-in goes on for everyone else, with per-process counters meanwhile.
    assert.equal((await attempt('durable2', password)).status, 201);
    // ... and those counters still limit: one address gets its 5 attempts, then 429 (BF-02).
    const fromOne = server.client({ headers: { 'x-forwarded-for': '203.0.113.99' } });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof attempt>> | undefined;
    for (let i = 0; i < 7; i++) {
      const res = await fromOne.post('/api/v1/sessions', { identifier: `ghost-outage-${i}`, password: 'nope' });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429], 'the per-IP limit holds while Redis is down');
    assert.ok(Number(limited?.headers.get('retry-after')) > 0);

    redis = await startRedis(port);
    await until(async () => (await server.client().get('/readyz')).json?.degraded?.length === 0, 'Redis to be back');
    assert.equal(await degradedMetric(), '0');
    assert.equal((await attempt('durable1', password)).status, 401, 'still locked after Redis returns');
  });
});
