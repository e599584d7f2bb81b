import { randomBytes, randomFillSync, randomInt } from 'node:crypto';

/** Injected randomness. Every secret comes from here, so tests can see what was issued. */
export interface Random {
  bytes(n: number): Buffer;
  /** uniform integer in [0, max) */
  int(max: number): number;
}

// Small requests (ids, tokens, IVs) are served from a pool filled by the CSPRNG a few kilobytes
// at a time, as node's own randomUUID does: one call into OpenSSL per ~100 ids instead of one
// per id, which was ~5 µs each and several per sign-in (bench/RESULTS.md, `mfa`). Every byte is
// handed out once and copied out, so no two callers ever share or see each other's bytes.
const POOL_SIZE = 4096;
const POOLED_MAX = 256;
const pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let offset = POOL_SIZE;

function pooledBytes(n: number): Buffer {
  if (n > POOLED_MAX) return randomBytes(n);
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  // a buffer of its own (not node's shared small-buffer slab), like randomBytes gives
  const out = Buffer.allocUnsafeSlow(n);
  pool.copy(out, 0, offset, offset + n);
  // wiped as handed out, so the pool never holds a byte someone already has
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}

export const cryptoRandom: Random = {
  bytes: pooledBytes,
  int: (max) => randomInt(max),
};

/** URL-safe token of `bytes` random bytes (32 bytes = 256 bits). */
export function newToken(random: Random, bytes = 32): string {
  return random.bytes(bytes).toString('base64url');
}

/** Random id for rows: 128 bits, URL-safe. */
export function newId(random: Random): string {
  return random.bytes(16).toString('base64url');
}

/** A code of `length` characters drawn uniformly from `alphabet` (rejection-free via randomInt). */
export function newCode(random: Random, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[random.int(alphabet.length)];
  return out;
}

export const DIGITS = '0123456789';
/** Crockford-like alphabet without 0/O, 1/I/L, U: easy to read aloud and type from a phone. */
export const UNAMBIGUOUS = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
