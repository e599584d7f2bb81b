import { createHmac, hash, timingSafeEqual } from 'node:crypto';

/** SHA-256 for high-entropy secrets (session and link tokens): a preimage is infeasible. */
export function sha256(value: string): string {
  // One-shot: no Hash object per call (this runs on every signed-in request).
  return hash('sha256', value, 'base64url');
}

/**
 * Keyed hash for short codes: without the server key a stolen database cannot be brute-forced
 * offline. `purpose` separates code spaces so a code of one flow never matches another.
 */
export function keyedHash(key: string, purpose: string, value: string): string {
  return createHmac('sha256', key).update(`${purpose}\u0000${value}`, 'utf8').digest('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
