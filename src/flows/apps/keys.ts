import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { Kernel } from '../../kernel.ts';
import { newToken } from '../../security/random.ts';
import { seal, unseal } from '../../security/sealed.ts';
import { insertKey, listKeys, retireKeys } from '../../store/oidc-store.ts';

// OP-05: ID-token signing keys. The first start generates one; `latchkey keys rotate` adds a new
// one that signs from then on, while the old one stays in the JWKS until every token it signed
// has expired (the longest token lifetime after its retirement), then is dropped.

export type KeysDeps = Pick<Kernel, 'db' | 'clock' | 'random' | 'secret' | 'config'>;

const PURPOSE = 'oidc-signing-key';
export type Jwk = JsonWebKey & { kid: string; alg: string; use: string };

export interface SigningKeys {
  /** private JWKs, the signing one first (oidc-provider signs with the first matching key) */
  private: Jwk[];
  /** what /oidc/jwks publishes */
  public: Jwk[];
  /** changes whenever the set changes, to notice a rotation made by another process */
  version: string;
}

function newKey(d: KeysDeps) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = newToken(d.random, 12);
  const priv = { ...(privateKey.export({ format: 'jwk' }) as JsonWebKey), kid, alg: 'RS256', use: 'sig' };
  const pub = { ...(publicKey.export({ format: 'jwk' }) as JsonWebKey), kid, alg: 'RS256', use: 'sig' };
  return {
    kid,
    alg: 'RS256',
    private_jwk_enc: seal(d.secret, PURPOSE, JSON.stringify(priv)),
    public_jwk: JSON.stringify(pub),
    created_at: d.clock.now(),
    retired_at: null,
  };
}

/** How long a retired key must stay published: no token it signed outlives this. */
function keepRetiredFor(d: KeysDeps): number {
  const op = d.config.op;
  return Math.max(op.idTokenTtl, op.accessTokenTtl, op.codeTtl);
}

/** The keys in use, generating the first one on a fresh database. */
export async function loadSigningKeys(d: KeysDeps): Promise<SigningKeys> {
  let rows = await listKeys(d.db);
  if (!rows.some((r) => r.retired_at === null)) {
    // Several processes starting at once may each add one; the newest signs, the others stay
    // published like retired keys, so every token verifies either way.
    await insertKey(d.db, newKey(d));
    rows = await listKeys(d.db);
  }
  const now = d.clock.now();
  const live = rows.filter((r) => r.retired_at === null || r.retired_at + keepRetiredFor(d) > now);
  // Newest active key first: it signs.
  live.sort((a, b) => Number(a.retired_at !== null) - Number(b.retired_at !== null) || b.created_at - a.created_at);
  return {
    private: live.map((r) => JSON.parse(unseal(d.secret, PURPOSE, r.private_jwk_enc)) as Jwk),
    public: live.map((r) => JSON.parse(r.public_jwk) as Jwk),
    version: live.map((r) => `${r.kid}:${r.retired_at ?? ''}`).join(','),
  };
}

/** `latchkey keys rotate`: a new signing key; the previous ones retire (published until their tokens expire). */
export async function rotateSigningKey(d: KeysDeps): Promise<{ kid: string; retired: number }> {
  const row = newKey(d);
  const now = d.clock.now();
  return d.db.transaction().execute(async (trx) => {
    const before = await listKeys(trx);
    await insertKey(trx, row);
    await retireKeys(trx, row.kid, now, now - keepRetiredFor(d));
    return { kid: row.kid, retired: before.filter((r) => r.retired_at === null).length };
  });
}
