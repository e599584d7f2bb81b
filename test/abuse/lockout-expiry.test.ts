import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../../src/security/clock.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { createAccounts } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('progressive lockout ends by itself', () => {
  let server: TestServer;
  const password = strongPassword();
  before(async () => {
    server = await startTestServer({
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_LOCKOUT_AFTER: '3',
      LATCHKEY_LOCKOUT_BASE: '3s',
      LATCHKEY_LOCKOUT_MAX: '1h',
    });
    await createAccounts(server, ['patient1'], password);
  });
  after(async () => server?.close());

  const gate = () => server.deps.guard.signInGate('patient1', { ip: '192.0.2.200', userAgent: '', correlationId: 'x' });
  const attempt = (pw: string) => server.client().post('/api/v1/sessions', { identifier: 'patient1', password: pw });

  test('BF-01 the lock lasts the base time, doubles with each further failure, and the right password works after it', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await attempt('wrong-patience')).status, 401);
    assert.equal((await gate()).locked, true, 'locked after the third failure');
    await sleep(3600);
    assert.equal((await gate()).locked, false, 'the 3 s lock is over');
    // One more failure: the count is 4, so the lock is now 6 s. The margins are seconds wide, so a
    // slow machine cannot turn these checks around.
    assert.equal((await attempt('wrong-again')).status, 401);
    await sleep(3600);
    assert.equal((await gate()).locked, true, 'the second lock is longer than the first');
    await sleep(3000);
    assert.equal((await gate()).locked, false);
    assert.equal((await attempt(password)).status, 201, 'the owner gets in once the lock is over');
  });
});

describe('forgotten runs of failures', () => {
  let server: TestServer;
  const clock = new FakeClock();
  before(async () => {
    server = await startTestServer({ LATCHKEY_RATE_LIMIT_SCALE: '1', LATCHKEY_LOCKOUT_MEMORY: '1h' }, { clock });
  });
  after(async () => server?.close());

  const rows = async () => (await server.deps.db.selectFrom('sign_in_failures').select('key').execute()).length;

  test('BF-01 runs nobody added to for LATCHKEY_LOCKOUT_MEMORY are deleted, so unknown identifiers do not pile up', async () => {
    const ctx = { ip: '192.0.2.201', userAgent: '', correlationId: 'x' };
    const ghost = async (name: string) => {
      await server.client().post('/api/v1/sessions', { identifier: name, password: 'wrong-ghost' });
    };
    for (let i = 0; i < 5; i++) await ghost(`ghost-pile-${i}`);
    assert.equal(await rows(), 5, 'every unknown identifier tried has its run');
    clock.advance(30 * 60_000);
    await ghost('ghost-pile-late');
    assert.equal(await rows(), 6, 'nothing is forgotten within the memory');
    clock.advance(31 * 60_000);
    await server.deps.guard.signInReserve('ghost-pile-next', null, ctx);
    assert.equal(await rows(), 2, 'the five forgotten runs are gone; the recent two stay');
  });
});
