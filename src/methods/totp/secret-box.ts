import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import type { Random } from '../../security/random.ts';

// TOTP secrets at rest (MFA-01): AES-256-GCM under a key derived from the server secret (HKDF),
// bound to the factor's row id as associated data, so a ciphertext copied onto another row or
// account does not decrypt. A stolen database without LATCHKEY_SECRET reveals no secret.

const VERSION = 'v1';

function keyOf(serverSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, 'latchkey', 'totp-secret-v1', 32));
}

export function sealSecret(serverSecret: string, random: Random, rowId: string, secret: string): string {
  const iv = random.bytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(serverSecret), iv);
  cipher.setAAD(Buffer.from(rowId));
  const ct = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join(
    '.',
  );
}

/** The secret, or undefined when the box was made under another key, for another row, or tampered with. */
export function openSecret(serverSecret: string, rowId: string, sealed: string): string | undefined {
  const [v, iv, tag, ct] = sealed.split('.');
  if (v !== VERSION || !iv || !tag || ct === undefined) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(serverSecret), Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(rowId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
