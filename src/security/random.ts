import { randomBytes, randomInt } from 'node:crypto';

/** Injected randomness. Every secret comes from here, so tests can see what was issued. */
export interface Random {
  bytes(n: number): Buffer;
  /** uniform integer in [0, max) */
  int(max: number): number;
}

export const cryptoRandom: Random = {
  bytes: (n) => randomBytes(n),
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
