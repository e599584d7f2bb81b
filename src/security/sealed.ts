import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// Secrets the service must read back (OP signing keys, client secrets) are stored encrypted with
// AES-256-GCM under a key derived from the server secret: a copy of the database alone reveals
// nothing. `purpose` separates the keys, so one kind of sealed value never opens as another.

function keyFor(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'latchkey-sealed', purpose, 32));
}

/** `v1.<iv>.<ciphertext+tag>` in base64url. */
export function seal(secret: string, purpose: string, plain: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', keyFor(secret, purpose), iv);
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final(), c.getAuthTag()]);
  return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/** The plain text, or an error when the value was not sealed with this secret and purpose. */
export function unseal(secret: string, purpose: string, sealed: string): string {
  const [v, iv, body] = sealed.split('.');
  if (v !== 'v1' || !iv || !body) throw new Error('not a sealed value');
  const raw = Buffer.from(body, 'base64url');
  const d = createDecipheriv('aes-256-gcm', keyFor(secret, purpose), Buffer.from(iv, 'base64url'));
  d.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([d.update(raw.subarray(0, raw.length - 16)), d.final()]).toString('utf8');
}
