import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

// A software passkey authenticator (ES256, "none" attestation) for tests and the bench: it answers
// WebAuthn options the way a browser plus authenticator would, and can be told to misbehave
// (another origin or RP ID, no user verification, a counter that goes backwards).

const b64u = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

/** Just enough CBOR for attestation objects and COSE keys: maps, ints, byte and text strings. */
export function cbor(v: unknown): Buffer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error(`cbor: cannot encode ${typeof v}`);
}

export interface SoftCredential {
  id: Buffer;
  key: KeyObject;
  userHandle: string;
  counter: number;
}

interface Options {
  challenge: string;
  rp?: { id?: string };
  rpId?: string;
  user?: { id: string };
}

export interface Misbehave {
  origin?: string;
  rpId?: string;
  /** default true: the user verified (PIN, biometrics) */
  uv?: boolean;
  /** the counter to report instead of the next one */
  counter?: number;
  /** sign this challenge instead of the options' */
  challenge?: string;
  type?: string;
  credential?: SoftCredential;
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  /** counters start here and go up by one per assertion; 0 = an authenticator without a counter */
  constructor(
    readonly origin: string,
    readonly rpId: string,
    private readonly counting = true,
  ) {}

  private clientData(type: string, challenge: string, origin: string) {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  private authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter >>> 0);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), c, ...(attested ? [attested] : [])]);
  }

  /** navigator.credentials.create(): a new ES256 credential, RegistrationResponseJSON. */
  create(options: Options, m: Misbehave = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = cbor(
      new Map<number, unknown>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x as string, 'base64url')],
        [-3, Buffer.from(jwk.y as string, 'base64url')],
      ]),
    );
    const id = randomBytes(32);
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(id.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLen, id, cose]);
    const uv = m.uv ?? true;
    const flags = 0x01 | (uv ? 0x04 : 0) | 0x40;
    const counter = m.counter ?? 0;
    const authData = this.authData(m.rpId ?? this.rpId, flags, counter, attested);
    const attestationObject = cbor(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    const cred: SoftCredential = { id, key: privateKey, userHandle: options.user?.id ?? '', counter };
    this.credentials.push(cred);
    const clientDataJSON = this.clientData(
      m.type ?? 'webauthn.create',
      m.challenge ?? options.challenge,
      m.origin ?? this.origin,
    );
    return {
      id: b64u(id),
      rawId: b64u(id),
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64u(clientDataJSON),
        attestationObject: b64u(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** navigator.credentials.get(): an assertion by the newest (or given) credential. */
  get(options: Options, m: Misbehave = {}) {
    const cred = m.credential ?? this.credentials.at(-1);
    if (!cred) throw new Error('no credential');
    if (m.counter !== undefined) cred.counter = m.counter;
    else if (this.counting) cred.counter++;
    const uv = m.uv ?? true;
    const authData = this.authData(m.rpId ?? this.rpId, 0x01 | (uv ? 0x04 : 0), cred.counter);
    const clientDataJSON = this.clientData(
      m.type ?? 'webauthn.get',
      m.challenge ?? options.challenge,
      m.origin ?? this.origin,
    );
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), cred.key);
    return {
      id: b64u(cred.id),
      rawId: b64u(cred.id),
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        userHandle: cred.userHandle || undefined,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
