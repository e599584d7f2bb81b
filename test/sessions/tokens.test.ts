import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cryptoRandom, newId, newToken } from '../../src/security/random.ts';

// SES-01: tokens come from the CSPRNG. Small requests are served from a pool it fills a few
// kilobytes at a time (src/security/random.ts); these check the pool never hands out a byte twice
// and never hands out the same buffer's memory to two callers.

describe('SES-01 random tokens from the pooled CSPRNG', () => {
  test('SES-01 tokens are 256 bits, ids 128 bits, and never repeat across many pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const token = newToken(cryptoRandom);
      assert.equal(Buffer.from(token, 'base64url').length, 32);
      assert.ok(!seen.has(token), 'no token twice');
      seen.add(token);
    }
    for (let i = 0; i < 5_000; i++) assert.equal(Buffer.from(newId(cryptoRandom), 'base64url').length, 16);
  });

  test('SES-01 each answer is a buffer of its own: writing to one never changes another or the next', () => {
    const a = cryptoRandom.bytes(16);
    const copy = Buffer.from(a);
    const b = cryptoRandom.bytes(16);
    b.fill(0);
    assert.deepEqual(a, copy);
    assert.equal(a.byteOffset, 0);
    assert.equal(a.buffer.byteLength, 16, 'not a view into a shared slab');
    assert.notDeepEqual(cryptoRandom.bytes(16), Buffer.alloc(16), 'a zeroed pool is never handed out');
  });

  test('SES-01 any size: crossing the pool boundary, larger than the pool, and zero', () => {
    for (const n of [0, 1, 12, 31, 32, 33, 255, 256, 257, 4095, 4096, 10_000]) {
      const a = cryptoRandom.bytes(n);
      assert.equal(a.length, n);
      if (n >= 16) assert.notDeepEqual(a, Buffer.alloc(n));
    }
    // the bytes are spread like random ones: every value appears in 200 KB
    const counts = new Uint32Array(256);
    for (let i = 0; i < 2_000; i++) for (const x of cryptoRandom.bytes(100)) counts[x]++;
    assert.ok(Math.min(...counts) > 500, 'each byte value about 781 times');
  });
});
