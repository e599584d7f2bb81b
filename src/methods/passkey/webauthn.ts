import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { AppError } from '../../errors.ts';

// What the passkey method needs of a client's WebAuthn JSON before the library sees it: the
// challenge (to find the ceremony) and a refusal that is always a 400, never a 500, whatever a
// hostile client sends.

/** The one answer to a passkey response that cannot be verified, whatever the reason. */
export const passkeyFailed = () => new AppError('passkey_failed');

/** The challenge the browser signed, read from clientDataJSON; throws passkey_failed when unreadable. */
export function signedChallenge(response: { response?: { clientDataJSON?: unknown } } | undefined): string {
  const raw = response?.response?.clientDataJSON;
  if (typeof raw !== 'string' || raw.length > 4096 || !/^[A-Za-z0-9_-]+={0,2}$/.test(raw)) throw passkeyFailed();
  try {
    const data: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    const challenge = (data as { challenge?: unknown } | null)?.challenge;
    if (typeof challenge === 'string' && /^[A-Za-z0-9_-]{22,128}$/.test(challenge)) return challenge;
  } catch {}
  throw passkeyFailed();
}

/** The response as the library types it, after the route's schema has bounded every field. */
export function asAssertion(v: unknown): AuthenticationResponseJSON {
  const r = v as AuthenticationResponseJSON | undefined;
  if (!r || typeof r !== 'object' || typeof r.id !== 'string' || typeof r.response !== 'object' || !r.response)
    throw passkeyFailed();
  return r;
}

export function asAttestation(v: unknown): RegistrationResponseJSON {
  const r = v as RegistrationResponseJSON | undefined;
  if (!r || typeof r !== 'object' || typeof r.id !== 'string' || typeof r.response !== 'object' || !r.response)
    throw passkeyFailed();
  return r;
}

/** Runs a library verification; anything it throws (malformed CBOR, bad signature …) is a 400. */
export async function orFailed<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw passkeyFailed();
  }
}

const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

/** The transports worth remembering (hints for later ceremonies), as stored JSON. */
export function transportsJson(v: unknown): string | null {
  if (!Array.isArray(v)) return null;
  const known = [...new Set(v.filter((t): t is string => typeof t === 'string' && TRANSPORTS.has(t)))];
  return known.length ? JSON.stringify(known) : null;
}

export function parseTransports(stored: string | null): string[] | undefined {
  if (!stored) return undefined;
  try {
    const v: unknown = JSON.parse(stored);
    return Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string' && TRANSPORTS.has(t)) : undefined;
  } catch {
    return undefined;
  }
}
