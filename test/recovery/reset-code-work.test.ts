import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { devMailbox, startTestServer, strongPassword, type TestServer } from '../support/server.ts';

// ENUM-04: completing a reset by code must do the same work for an unknown identifier as for a
// real account with a live code, or the response time tells which identifiers exist. Proven
// structurally (the SQL statements run and the keyed hashes computed), never by timing; the
// bench's reset-code-timing scenario gives the figures.

interface Work {
  statements: string[];
  hmacs: number;
  /** the statements run inside a transaction (on another executor than the database's own) */
  inTransaction: string[];
}

describe('ENUM-04 reset completion by code', () => {
  let server: TestServer;
  let recording: Work | undefined;
  const restore: (() => void)[] = [];
  let email: string;
  let otpEmail: string;
  let otpFlow: string;

  async function activated(username: string): Promise<string> {
    const c = server.client();
    const address = `${username}@example.test`;
    assert.equal(
      (await c.post('/api/v1/registrations', { username, email: address, password: strongPassword() })).status,
      202,
    );
    await server.deps.worker.drain();
    const mail = (await devMailbox(server)).find((m) => m.to.includes(address));
    const token = /\/activate\?token=([A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1];
    assert.equal((await c.post('/api/v1/activations', { token })).status, 200);
    return address;
  }

  before(async () => {
    // No background worker: the outbox is drained by hand, so no poll runs during a measurement.
    server = await startTestServer({}, { worker: false });
    // Every statement Kysely runs goes through its executor base class.
    const base = Object.getPrototypeOf(Object.getPrototypeOf(server.deps.db.getExecutor()));
    const executeQuery = base.executeQuery;
    const root = server.deps.db.getExecutor();
    base.executeQuery = function (this: unknown, query: { sql: string }, ...rest: unknown[]) {
      recording?.statements.push(query.sql);
      if (this !== root) recording?.inTransaction.push(query.sql);
      return executeQuery.call(this, query, ...rest);
    };
    restore.push(() => {
      base.executeQuery = executeQuery;
    });
    const createHmac = crypto.createHmac;
    crypto.createHmac = ((...args: Parameters<typeof createHmac>) => {
      if (recording) recording.hmacs++;
      return createHmac(...args);
    }) as typeof createHmac;
    syncBuiltinESMExports();
    restore.push(() => {
      crypto.createHmac = createHmac;
      syncBuiltinESMExports();
    });

    // One account with a live email-link code, one with a live flow-bound emailed code (a new
    // request ends an account's earlier codes, REC-02).
    email = await activated('codework');
    otpEmail = await activated('codework2');
    const c = server.client();
    assert.equal((await c.post('/api/v1/password-resets', { identifier: email })).status, 202);
    await server.deps.worker.drain();
    // An emailed code as the email_otp method stores it (only an organization that enables the
    // method issues one through the API).
    const otpAccount = await server.deps.db
      .selectFrom('accounts')
      .select('id')
      .where('email', '=', otpEmail)
      .executeTakeFirstOrThrow();
    otpFlow = 'flow-'.padEnd(22, 'q');
    await server.deps.db
      .insertInto('recovery_codes')
      .values({
        id: 'otp-row-'.padEnd(22, 'r'),
        account_id: otpAccount.id,
        method: 'email_otp',
        flow_id: otpFlow,
        token_hash: null,
        code_hash: 'not-the-hash-of-any-code',
        expires_at: Date.now() + 600_000,
        failed_attempts: 0,
        resends: 0,
        used_at: null,
        target: otpEmail,
        created_at: Date.now(),
      })
      .execute();
    const live = await server.deps.db
      .selectFrom('recovery_codes')
      .select('method')
      .where('used_at', 'is', null)
      .execute();
    assert.deepEqual(live.map((r) => r.method).sort(), ['email_link', 'email_otp']);
  });
  after(async () => {
    for (const r of restore.reverse()) r();
    await server?.close();
  });

  async function workOf(send: () => Promise<{ status: number }>, expectStatus: number): Promise<Work> {
    recording = { statements: [], hmacs: 0, inTransaction: [] };
    const work = recording;
    try {
      const res = await send();
      assert.equal(res.status, expectStatus);
      return work;
    } finally {
      recording = undefined;
    }
  }

  const api = (identifier: string, flow?: string) => () =>
    server.client().post('/api/v1/password-resets/complete', {
      identifier,
      code: 'ZZZZ-ZZZZ',
      password: strongPassword(),
      ...(flow ? { flow } : {}),
    });
  const page = (identifier: string) => () =>
    server.client().form('/change-password', { identifier, code: 'ZZZZ-ZZZZ', password: 'x', passwordConfirm: 'x' });

  test('ENUM-04 completing a reset by code does the same work for unknown and real identifiers', async () => {
    const unknown = await workOf(api('nobody-at-all@example.test'), 400);
    const real = await workOf(api(email), 400);
    assert.ok(real.statements.length >= 2, `statements recorded: ${real.statements.join('\n')}`);
    assert.deepEqual(unknown.statements, real.statements, 'the same statements, in the same order');
    assert.equal(unknown.hmacs, real.hmacs, 'the same number of keyed hashes');
    assert.ok(real.hmacs >= 1);
    // By username too, and for a flow-bound code within its flow (and the same-shaped flow for nobody).
    assert.deepEqual(await workOf(api('nobody-by-name'), 400), await workOf(api('codework'), 400));
    assert.deepEqual(
      await workOf(api('nobody@example.test', 'F'.repeat(22)), 400),
      await workOf(api(otpEmail, otpFlow), 400),
    );
    // The page does what the API does.
    assert.deepEqual(await workOf(page('nobody-at-all@example.test'), 400), await workOf(page(email), 400));
    // The wrong codes above took attempts from the live codes, as before (REC-06).
    const rows = await server.deps.db
      .selectFrom('recovery_codes')
      .select(['method', 'failed_attempts'])
      .where('used_at', 'is', null)
      .execute();
    const attempts = Object.fromEntries(rows.map((r) => [r.method, r.failed_attempts]));
    assert.equal(attempts.email_link, 3, 'each try reached the link code');
    assert.equal(attempts.email_otp, 1, 'the try within its flow reached the emailed code');
  });

  test('ENUM-04 a wrong code takes its attempt and writes its audit row in one transaction (one commit for every identifier)', async () => {
    for (const identifier of [email, 'nobody-in-trx@example.test']) {
      const work = await workOf(api(identifier), 400);
      const inTrx = work.inTransaction;
      assert.ok(
        inTrx.some((q) => /^update "recovery_codes"/i.test(q)),
        `${identifier}: the attempt is taken inside the transaction`,
      );
      assert.ok(
        inTrx.some((q) => /^insert into "audit_log"/i.test(q)),
        `${identifier}: the failure is audited inside it`,
      );
    }
  });

  test('ENUM-04 every failed completion by code is audited, an unknown identifier too (LOG-01)', async () => {
    const before = await server.deps.db
      .selectFrom('audit_log')
      .select(['account_id', 'details'])
      .where('event', '=', 'password.reset_code_failed')
      .execute();
    await api('still-nobody@example.test')();
    const after = await server.deps.db
      .selectFrom('audit_log')
      .select(['account_id', 'details'])
      .where('event', '=', 'password.reset_code_failed')
      .execute();
    assert.equal(after.length, before.length + 1);
    const last =
      after.find((r) => !before.some((b) => b.details === r.details && b.account_id === r.account_id)) ??
      after[after.length - 1];
    assert.equal(last?.account_id, null);
    assert.match(String(last?.details), /unknown_identifier/);
  });
});
