import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash } from '@node-rs/argon2';
import { defaultHashThreads, PasswordHasher } from '../../src/security/password-hash.ts';

// needsRehash reads the parameters from the PHC string; anything but our own argon2id
// parameters must ask for an upgrade on the next sign-in (PWD-07).

test('PWD-07 needsRehash: only our own argon2id parameters are current', async () => {
  const ours = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
  const h = new PasswordHasher(ours);
  assert.equal(h.needsRehash(await h.hash('correct horse')), false);
  const other = (o: object) => hash('correct horse', { algorithm: 2, ...ours, ...o });
  assert.equal(h.needsRehash(await other({ timeCost: 3 })), true, 'more iterations');
  assert.equal(h.needsRehash(await other({ memoryCost: 20000 })), true, 'more memory');
  assert.equal(h.needsRehash(await other({ parallelism: 2 })), true, 'more lanes');
  assert.equal(h.needsRehash(await other({ algorithm: 1 })), true, 'argon2i');
  assert.equal(h.needsRehash(await other({ algorithm: 0 })), true, 'argon2d');
  const current = await h.hash('correct horse');
  for (const bad of [
    '',
    'garbage',
    current.replace('v=19', 'v=16'),
    current.replace('m=19456', 'm=19456x'),
    `${current}\n`,
    current.replace(/\$[^$]+$/, ''),
  ])
    assert.equal(h.needsRehash(bad), true, JSON.stringify(bad));
  await h.close();
});

test('hashes run on at most `threads` threads at once; the rest wait their turn and every one completes', async () => {
  const params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
  const h = new PasswordHasher(params, 2);
  try {
    const stored = await h.hash('correct horse');
    assert.deepEqual(h.load, { running: 0, waiting: 0 });
    const all = Array.from({ length: 5 }, (_, i) => h.verify(stored, i === 3 ? 'wrong horse' : 'correct horse'));
    assert.deepEqual(h.load, { running: 2, waiting: 3 });
    // Sampled on every turn of the event loop while they run: never more than two threads exist,
    // and never more than two are busy.
    const workers = () => (h as unknown as { pool: { threads: unknown[] } }).pool.threads.length;
    let most = 0;
    let mostThreads = 0;
    let settled = false;
    const done = Promise.all(all).finally(() => (settled = true));
    while (!settled) {
      most = Math.max(most, h.load.running);
      mostThreads = Math.max(mostThreads, workers());
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await done, [true, true, true, false, true]);
    assert.equal(most, 2);
    assert.equal(mostThreads, 2);
    assert.deepEqual(h.load, { running: 0, waiting: 0 });
  } finally {
    await h.close();
  }
});

test('a hashing thread starts only when every running one is busy', async () => {
  const h = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }, 4);
  const threads = () => (h as unknown as { pool: { threads: unknown[] } }).pool.threads.length;
  try {
    assert.equal(threads(), 0, 'none before the first hash');
    for (let i = 0; i < 3; i++) await h.hash(`one at a time ${i}`);
    assert.equal(threads(), 1, 'hashes one after another share one thread');
    await Promise.all([h.hash('a'), h.hash('b'), h.hash('c')]);
    assert.equal(threads(), 3);
  } finally {
    await h.close();
  }
});

test('on one thread, hashes finish in the order they were asked for', async () => {
  const h = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }, 1);
  try {
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3].map((i) => h.hash(`pw${i}`).then(() => order.push(i))));
    assert.deepEqual(order, [0, 1, 2, 3]);
  } finally {
    await h.close();
  }
});

test('a hash that fails frees its thread (a malformed stored hash is a wrong password, not a stuck queue)', async () => {
  const h = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }, 1);
  try {
    const results = await Promise.all([
      h.verify('garbage', 'x'),
      h.verify('$argon2id$v=19$m=1,t=1,p=1$$', 'x'),
      h.verify('x'.repeat(100_000), 'x'),
      h.hash('after'),
    ]);
    assert.deepEqual(results.slice(0, 3), [false, false, false]);
    assert.equal(h.needsRehash(results[3] as string), false);
    assert.deepEqual(h.load, { running: 0, waiting: 0 });
  } finally {
    await h.close();
  }
});

test('a hashing thread that dies fails only its own jobs, and the next job gets a new thread', async () => {
  const h = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }, 1);
  try {
    const stored = await h.hash('correct horse');
    // What a crash looks like from here: the thread exits with jobs in hand.
    const inHand = h.verify(stored, 'correct horse');
    const pool = (h as unknown as { pool: { threads: { worker: { terminate(): Promise<number> } }[] } }).pool;
    await pool.threads[0]?.worker.terminate();
    assert.equal(await inHand, false, 'a lost verification is a failed one, never a success');
    assert.equal(await h.verify(stored, 'correct horse'), true);
    assert.deepEqual(h.load, { running: 0, waiting: 0 });
  } finally {
    await h.close();
  }
});

test('ENUM-01 burn never throws, even when its dummy hash is lost with its thread, and makes it again', async () => {
  const h = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }, 1);
  const pool = (h as unknown as { pool: { threads: { worker: { terminate(): Promise<number> } }[] } }).pool;
  try {
    const first = h.burn('whatever');
    // the dummy is being made on the only thread: lose it
    await pool.threads[0]?.worker.terminate();
    await first;
    const t0 = performance.now();
    await h.burn('whatever');
    // a real dummy again: the second burn made it and verified against it (two hashes' work)
    assert.ok(performance.now() - t0 > 1, 'burn did the hashing work');
    assert.equal((h as unknown as { dummy?: Promise<string> }).dummy instanceof Promise, true);
    assert.equal(h.needsRehash(await (h as unknown as { dummy: Promise<string> }).dummy), false);
  } finally {
    await h.close();
  }
  await h.burn('after close');
});

test('after close, hashing refuses at once instead of hanging', async () => {
  const h = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }, 1);
  await h.hash('warm');
  await h.close();
  await assert.rejects(h.hash('late'), /stopped/);
  assert.equal(await h.verify('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA', 'late'), false);
});

test('the default is one hashing thread per CPU', () => {
  assert.equal(defaultHashThreads(2), 2);
  assert.equal(defaultHashThreads(16), 16);
  assert.equal(defaultHashThreads(0), 1);
  assert.throws(() => new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }, 0), RangeError);
});
