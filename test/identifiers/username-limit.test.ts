import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAccounts } from '../abuse/helpers.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';

// Item 10 of issue 15: usernames are public handles, so registration may say one is taken (409);
// with the real defaults (scale 1) that answer is rate-limited per IP before it is given, and it
// is the same, headers included, whatever the email.

let ipN = 0;
const nextIp = () => `203.0.113.${++ipN}`;

/** What a client sees of an answer, less the headers that vary by the clock or the connection. */
function shape(r: { status: number; text: string; headers: Headers }) {
  const h = Object.fromEntries(
    [...r.headers].filter(([k]) => !['date', 'content-length', 'keep-alive', 'connection'].includes(k)),
  );
  return { status: r.status, body: r.text, headers: h };
}

describe('ENUM-03 the username-taken answer with the real limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LATCHKEY_RATE_LIMIT_SCALE: '1', LATCHKEY_TRUSTED_PROXIES: '127.0.0.1' });
    await createAccounts(server, ['takenname', 'owner1'], strongPassword());
  });
  after(() => server?.close());

  const register = (ip: string, username: string, email: string) =>
    server
      .client({ headers: { 'x-forwarded-for': ip } })
      .post('/api/v1/registrations', { username, email, password: strongPassword() });

  test('ENUM-03 a taken username answers the same, headers included, with an existing and with a new email', async () => {
    const ip = nextIp();
    const existing = await register(ip, 'takenname', 'owner1@example.test');
    const fresh = await register(ip, 'takenname', 'nobody-has-this@example.test');
    assert.equal(existing.status, 409);
    assert.deepEqual(shape(existing), shape(fresh));
  });

  test('ENUM-03 BF-02 asking whether usernames are taken is limited per IP before the 409 is given', async () => {
    const ip = nextIp();
    const statuses: number[] = [];
    // LATCHKEY_LIMIT_REGISTRATION_IP defaults to 10 an hour; every email differs, so only the IP limit applies
    for (let i = 0; i < 12; i++) statuses.push((await register(ip, 'takenname', `probe${i}@example.test`)).status);
    assert.deepEqual(statuses, [...Array(10).fill(409), 429, 429]);
    // past the limit a free username gets the same 429: the answer no longer says anything about names
    const free = await register(ip, 'freename77', 'probe-free@example.test');
    assert.equal(free.status, 429);
    assert.equal(
      (await server.deps.db.selectFrom('accounts').select('id').where('username_key', '=', 'freename77').execute())
        .length,
      0,
    );
  });

  test('ID-01 BF-02 respelling an address does not buy more activation-code tries: every spelling counts as one identifier', async () => {
    const spellings: string[] = [];
    for (const local of ['kk', '\uFF4Bk', 'k\uFF4B', '\uFF4B\uFF4B'])
      for (const domain of ['example.test', 'example.test.', '\uFF45xample.test']) spellings.push(`${local}@${domain}`);
    const statuses: number[] = [];
    for (const identifier of spellings)
      statuses.push(
        (
          await server
            .client({ headers: { 'x-forwarded-for': nextIp() } })
            .post('/api/v1/activations', { identifier, code: 'ABCD-EFGH' })
        ).status,
      );
    // LATCHKEY_LIMIT_ACTIVATION_ID defaults to 10 per 10 minutes
    assert.deepEqual(statuses, [...Array(10).fill(400), 429, 429]);
  });
});
