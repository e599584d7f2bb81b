import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import { SmtpTransport } from '../../src/delivery/email.ts';
import { Outbox } from '../../src/delivery/outbox.ts';
import { DeliveryWorker, type OutboxRow, type Transport } from '../../src/delivery/worker.ts';
import { type Clock, FakeClock } from '../../src/security/clock.ts';
import { cryptoRandom } from '../../src/security/random.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { needs } from '../support/env.ts';
import { withSmtp } from '../support/fixture.ts';
import { freshPostgres, postgresAvailable } from '../support/pg.ts';

const quiet = pino({ level: 'silent' });
const dirs: string[] = [];

async function sqliteStore(): Promise<Store & { file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-outbox-'));
  dirs.push(dir);
  const file = join(dir, 'outbox.db');
  const store = openStore(file);
  await migrate(store);
  return Object.assign(store, { file });
}

function worker(
  store: Store,
  clock: Clock,
  outbox: Outbox,
  opts: { maxAttempts?: number; backoffBaseMs?: number; id?: string } = {},
) {
  return new DeliveryWorker(
    store.db,
    store.engine,
    clock,
    quiet,
    {
      pollMs: 50,
      maxAttempts: opts.maxAttempts ?? 4,
      backoffBaseMs: opts.backoffBaseMs ?? 1000,
      leaseMs: 60_000,
      workerId: opts.id ?? 'test-worker',
    },
    outbox,
  );
}

/** A fresh SQLite store with a fake clock, an outbox and a worker on them: how most tests here begin. */
async function sqliteWorker(opts: Parameters<typeof worker>[3] = {}) {
  const store = await sqliteStore();
  const clock = new FakeClock();
  const outbox = new Outbox(clock, cryptoRandom);
  return { store, clock, outbox, w: worker(store, clock, outbox, opts) };
}

const mail = (n: number | string) => ({
  channel: 'email' as const,
  kind: 'test',
  to: `r${n}@example.test`,
  subject: `message ${n}`,
  text: `secret link https://x.test/reset?token=t${n}`,
  html: `<p>token t${n}</p>`,
});

const rowsOf = (store: Store) => store.db.selectFrom('outbox').selectAll().orderBy('created_at').execute();

/** A transport that fails while `failing` is set, and records what it delivered. */
class Flaky implements Transport {
  failing = true;
  delivered: string[] = [];
  async deliver(row: OutboxRow) {
    if (this.failing) throw new Error('mail server said no');
    this.delivered.push(row.id);
  }
}

/**
 * A transport that records what it delivered and the most deliveries it had in hand at once: a
 * worker delivers a claimed batch all together, so that is the size of its largest claim.
 * `gate`, when given, is awaited before each delivery completes.
 */
function counting(gate?: () => Promise<unknown>) {
  const c = {
    delivered: [] as string[],
    inHand: 0,
    mostInHand: 0,
    transport: {
      async deliver(row: OutboxRow) {
        c.mostInHand = Math.max(c.mostInHand, ++c.inHand);
        await (gate ? gate() : new Promise((r) => setImmediate(r)));
        c.inHand--;
        c.delivered.push(row.id);
      },
    } as Transport,
  };
  return c;
}

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('outbox and delivery worker', () => {
  test('retries follow the backoff schedule (base, then doubling) on the injected clock', async () => {
    const { store, clock, outbox, w } = await sqliteWorker({ maxAttempts: 10, backoffBaseMs: 1000 });
    const t = new Flaky();
    w.setTransport('email', t);
    await outbox.send(store.db, mail(1));
    const start = clock.now();
    const expected = [0, 1000, 3000, 7000, 15000]; // due times of attempts 1..5
    for (let attempt = 1; attempt <= expected.length; attempt++) {
      clock.set(start + expected[attempt - 1] - 1);
      if (attempt > 1) assert.equal(await w.drain(), 0, `attempt ${attempt} must not run 1 ms early`);
      clock.set(start + expected[attempt - 1]);
      assert.equal(await w.drain(), 1, `attempt ${attempt} runs when due`);
      const [row] = await rowsOf(store);
      assert.equal(row.attempts, attempt);
      assert.equal(row.status, 'pending');
      assert.equal(row.next_attempt_at, clock.now() + 1000 * 2 ** (attempt - 1));
      assert.match(row.last_error ?? '', /mail server said no/);
      assert.equal(row.locked_by, null, 'a failed row is released for the next attempt');
    }
    t.failing = false;
    clock.set(start + 31000);
    assert.equal(await w.drain(), 1);
    const [done] = await rowsOf(store);
    assert.equal(done.status, 'sent');
    assert.equal(done.sent_at, clock.now());
    assert.equal(t.delivered.length, 1);
    await store.close();
  });

  test('one drain delivers a backlog larger than a batch, claiming at most a batch at a time', async () => {
    const { store, outbox, w } = await sqliteWorker();
    const t = counting();
    w.setTransport('email', t.transport);
    for (let i = 0; i < 25; i++) await outbox.send(store.db, mail(`b${i}`));
    assert.equal(await w.drain(), 25, 'a worker that was never started still drains everything due');
    assert.equal(new Set(t.delivered).size, 25);
    assert.equal(t.mostInHand, 10, 'batches of 10');
    assert.deepEqual(
      (await rowsOf(store)).map((r) => r.status),
      Array(25).fill('sent'),
    );
    await store.close();
  });

  test('stop() lets the batch in hand finish and claims no more (graceful shutdown)', async () => {
    const { store, outbox, w } = await sqliteWorker();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const t = counting(() => held);
    w.setTransport('email', t.transport);
    for (let i = 0; i < 25; i++) await outbox.send(store.db, mail(`s${i}`));
    w.start();
    w.kick();
    while (t.inHand < 10) await new Promise((r) => setImmediate(r));
    const stopped = w.stop();
    release();
    await stopped;
    assert.equal(t.delivered.length, 10, 'the batch in hand was delivered');
    const rows = await rowsOf(store);
    assert.equal(rows.filter((r) => r.status === 'sent').length, 10);
    assert.equal(
      rows.filter((r) => r.status === 'pending' && r.locked_by === null).length,
      15,
      'the rest is left unclaimed for the next process',
    );
    await store.close();
  });

  test('on SQLite a poll with nothing due only reads: it finishes while another process holds the write lock', async () => {
    const { store, clock, outbox, w } = await sqliteWorker();
    const t = counting();
    w.setTransport('email', t.transport);
    await outbox.send(store.db, mail('later'));
    await store.db
      .updateTable('outbox')
      .set({ next_attempt_at: clock.now() + 60_000 })
      .execute();
    // Another process mid-write: an idle poll that took the write lock would wait out the busy
    // timeout (5 s) and fail with SQLITE_BUSY; one that only reads goes on.
    const other = new Database(store.file);
    other.exec('BEGIN IMMEDIATE');
    try {
      assert.equal(await w.drain(), 0);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    clock.advance(60_000);
    assert.equal(await w.drain(), 1, 'once due, the message is claimed and sent');
    assert.equal(t.delivered.length, 1);
    await store.close();
  });

  test('a message is given up after the maximum attempts, and its body is scrubbed', async () => {
    const { store, clock, outbox, w } = await sqliteWorker({ maxAttempts: 3, backoffBaseMs: 10 });
    w.setTransport('email', new Flaky());
    await outbox.send(store.db, mail(2));
    for (let i = 0; i < 5; i++) {
      await w.drain();
      clock.advance(3_600_000);
    }
    const [row] = await rowsOf(store);
    assert.equal(row.status, 'failed');
    assert.equal(row.attempts, 3, 'no attempt after giving up');
    assert.equal(row.body_text, '');
    assert.equal(row.body_html, '');
    assert.equal(row.payload, null);
    assert.match(row.last_error ?? '', /mail server said no/);
    await store.close();
  });

  test('bodies and job payloads are scrubbed after delivery', async () => {
    const { store, outbox, w } = await sqliteWorker();
    const t = new Flaky();
    t.failing = false;
    w.setTransport('email', t);
    const seen: Record<string, unknown>[] = [];
    w.registerJob('test.job', async (payload) => {
      seen.push(payload);
    });
    await outbox.send(store.db, mail(3));
    await outbox.job(store.db, { kind: 'test.job', payload: { tokenHash: 'abc', n: 1 } });
    assert.equal(await w.drain(), 2);
    assert.deepEqual(seen, [{ tokenHash: 'abc', n: 1 }]);
    for (const row of await rowsOf(store)) {
      assert.equal(row.status, 'sent');
      assert.equal(row.body_text, '');
      assert.equal(row.body_html, '');
      assert.equal(row.payload, null);
    }
    await store.close();
  });

  test('a row claimed by a worker that died stays its own until the lease runs out, then another worker delivers it', async () => {
    const store = await sqliteStore();
    const clock = new FakeClock();
    const outbox = new Outbox(clock, cryptoRandom);
    await outbox.send(store.db, mail('lease'));
    // worker A claims the row and dies before finishing: the claim is all that is left of it
    await store.db
      .updateTable('outbox')
      .set({ locked_by: 'dead-worker', locked_until: clock.now() + 60_000, attempts: 1 })
      .execute();
    const b = worker(store, clock, outbox, { id: 'worker-b' });
    const t = new Flaky();
    t.failing = false;
    b.setTransport('email', t);
    assert.equal(await b.drain(), 0, 'a live lease is respected');
    clock.advance(59_999);
    assert.equal(await b.drain(), 0);
    clock.advance(2);
    assert.equal(await b.drain(), 1, 'an expired lease is taken over');
    const [row] = await rowsOf(store);
    assert.equal(row.status, 'sent');
    assert.equal(row.attempts, 2, 'the lost attempt still counts toward the limit');
    assert.equal(t.delivered.length, 1);
    await store.close();
  });

  test('a message written in a rolled-back transaction is never sent', async () => {
    const store = await sqliteStore();
    const clock = new FakeClock();
    const outbox = new Outbox(clock, cryptoRandom);
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await outbox.send(trx, mail(4));
        throw new Error('state change failed');
      }),
    );
    assert.equal((await rowsOf(store)).length, 0);
    await store.close();
  });

  describe('SMTP refusing, then recovering', () => {
    const smtp = withSmtp();

    test('a 451 keeps the message pending; after recovery it arrives once, then is scrubbed', async () => {
      const { store, clock, outbox, w } = await sqliteWorker({ backoffBaseMs: 2000 });
      const transport = new SmtpTransport(smtp.url, 'Latchkey <no-reply@example.test>', 5000);
      w.setTransport('email', transport);
      try {
        smtp.refuse = true;
        await outbox.send(store.db, mail('smtp'));
        assert.equal(await w.drain(), 1);
        let [row] = await rowsOf(store);
        assert.equal(row.status, 'pending');
        assert.equal(row.attempts, 1);
        assert.match(row.last_error ?? '', /451|try again/);
        assert.match(row.body_text, /token=tsmtp/, 'the body is kept until it is delivered');
        smtp.refuse = false;
        clock.advance(2000);
        assert.equal(await w.drain(), 1);
        const got = await smtp.waitFor((m) => m.to.includes('rsmtp@example.test'));
        assert.equal(got.subject, 'message smtp');
        assert.match(got.text, /token=tsmtp/);
        [row] = await rowsOf(store);
        assert.equal(row.status, 'sent');
        assert.equal(row.body_text, '');
        clock.advance(3_600_000);
        assert.equal(await w.drain(), 0);
        assert.equal(smtp.mails.filter((m) => m.to.includes('rsmtp@')).length, 1, 'delivered exactly once');
      } finally {
        transport.close();
        await store.close();
      }
    });
  });

  test('two workers (two processes) on one PostgreSQL database claim disjoint rows of at most a batch each: nothing is delivered twice', async (t) => {
    if (!needs(t, 'PostgreSQL', await postgresAvailable())) return;
    const pg = await freshPostgres();
    const a = openStore(pg.url);
    const b = openStore(pg.url);
    try {
      await Promise.all([migrate(a), migrate(b)]);
      const clock: Clock = { now: () => Date.now() };
      const outbox = new Outbox(clock, cryptoRandom);
      const N = 120;
      for (let i = 0; i < N; i++) await outbox.send(a.db, mail(`pg${i}`));
      // Worker a's first batch waits (at most 5 s) until b has delivered something, so the two
      // claim side by side even on a loaded machine; before, a could drain all 120 before b's
      // first claim reached the server.
      let bStarted: () => void = () => {};
      const bHasStarted = new Promise<void>((r) => {
        bStarted = r;
      });
      const ta = counting(async () => {
        await Promise.race([bHasStarted, new Promise((r) => setTimeout(r, 5000))]);
        // a few ms per mail so the two workers' claims overlap in time
        await new Promise((r) => setTimeout(r, 2));
      });
      const tb = counting(async () => {
        await new Promise((r) => setTimeout(r, 2));
        bStarted();
      });
      const wa = worker(a, clock, new Outbox(clock, cryptoRandom), { id: 'worker-a' });
      const wb = worker(b, clock, new Outbox(clock, cryptoRandom), { id: 'worker-b' });
      wa.setTransport('email', ta.transport);
      wb.setTransport('email', tb.transport);
      const [na, nb] = await Promise.all([wa.drain(), wb.drain()]);
      assert.equal(na + nb, N, `every claimed row was processed once (a=${na}, b=${nb})`);
      const ids = [...ta.delivered, ...tb.delivered];
      assert.equal(new Set(ids).size, ids.length, 'no message delivered twice');
      assert.equal(ids.length, N);
      // A claim larger than the batch could outlast its lease and be taken over and sent again.
      assert.ok(
        ta.mostInHand <= 10 && tb.mostInHand <= 10,
        `one claim is at most a batch of 10 (a=${ta.mostInHand}, b=${tb.mostInHand})`,
      );
      assert.ok(na > 0 && nb > 0, `both workers took part (a=${na}, b=${nb})`);
      const pending = await a.db.selectFrom('outbox').select('id').where('status', '!=', 'sent').execute();
      assert.equal(pending.length, 0);
    } finally {
      await a.close();
      await b.close();
      await pg.drop();
    }
  });
});
