import { type Challenge, createChallenge, type Payload, randomInt, verifySolution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { RequestContext } from '../../context.ts';
import type { Kernel } from '../../kernel.ts';
import { deleteExpiredNonces, useNonce } from '../../store/used-nonces.ts';
import type { Captcha, CaptchaWidget } from '../captcha.ts';
import { keyedHash, safeEqual } from '../hashing.ts';
import { newToken } from '../random.ts';

/** What this module uses of the container the composition root builds. */
export type AltchaDeps = Pick<Kernel, 'db' | 'clock' | 'secret' | 'random'>;

export const CHALLENGE_PATH = '/api/v1/captcha/challenge';
const ALGORITHM = 'SHA-256';
const NOJS = 'nojs.';

/**
 * ALTCHA, self-hosted proof of work: no third party, no cookies, works offline. The challenge is
 * signed with a key derived from the server secret, so any process on the same database can
 * verify it; a solved payload is accepted once (its nonce goes into `used_nonces`, shared by
 * every process) and only until the challenge expires.
 */
export class AltchaCaptcha implements Captcha {
  readonly widget: CaptchaWidget = { provider: 'altcha', challengeUrl: CHALLENGE_PATH };
  private readonly signatureKey: string;
  private readonly keySignatureKey: string;
  private lastSweep = 0;

  constructor(
    private readonly d: AltchaDeps,
    private readonly o: { maxNumber: number; ttlMs: number; noJsWaitMs?: number },
  ) {
    this.signatureKey = keyedHash(d.secret, 'altcha', 'challenge-signature');
    this.keySignatureKey = keyedHash(d.secret, 'altcha', 'key-signature');
  }

  async challenge(): Promise<Challenge> {
    return createChallenge({
      algorithm: ALGORITHM,
      cost: 1,
      // Deterministic mode: the solver must walk the counter up to this number, so the work is
      // bounded (about a second in a browser at the default) rather than a lottery.
      counter: randomInt(this.o.maxNumber),
      deriveKey,
      expiresAt: Math.floor((this.d.clock.now() + this.o.ttlMs) / 1000),
      hmacSignatureSecret: this.signatureKey,
      hmacKeySignatureSecret: this.keySignatureKey,
    });
  }

  /**
   * The fallback without JavaScript (issue 17, defect 9): proof of work needs a script, so a
   * browser without one proves patience instead. The ticket is signed, names when it was served,
   * and is accepted once, no sooner than LATCHKEY_CAPTCHA_NOJS_WAIT after that and before the
   * challenge lifetime ends. A bot can wait too, but each ticket costs it that wait and the
   * request limits still apply; it is the slower puzzle a person without scripts can solve.
   */
  noJsTicket(): { ticket: string; waitSeconds: number } {
    const body = `${this.d.clock.now()}.${newToken(this.d.random, 12)}`;
    return { ticket: `${NOJS}${body}.${this.ticketMac(body)}`, waitSeconds: Math.ceil(this.noJsWaitMs / 1000) };
  }

  private get noJsWaitMs(): number {
    return this.o.noJsWaitMs ?? 15_000;
  }

  private ticketMac(body: string): string {
    return keyedHash(this.signatureKey, 'altcha-nojs', body);
  }

  private async verifyTicket(ticket: string): Promise<boolean> {
    const m = /^(\d{1,16})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/.exec(ticket.slice(NOJS.length));
    if (!m) return false;
    const body = `${m[1]}.${m[2]}`;
    if (!safeEqual(this.ticketMac(body), m[3])) return false;
    const issued = Number(m[1]);
    const now = this.d.clock.now();
    if (now < issued + this.noJsWaitMs || now >= issued + this.o.ttlMs) return false;
    return this.useOnce(`altcha-nojs:${m[2]}`, issued + this.o.ttlMs, now);
  }

  async verify(solution: string | undefined, _ctx: RequestContext): Promise<boolean> {
    if (typeof solution === 'string' && solution.startsWith(NOJS)) return this.verifyTicket(solution);
    const payload = parsePayload(solution);
    if (!payload) return false;
    const p = payload.challenge.parameters;
    const now = this.d.clock.now();
    if (
      p.algorithm !== ALGORITHM ||
      typeof p.expiresAt !== 'number' ||
      p.expiresAt * 1000 <= now ||
      typeof p.nonce !== 'string'
    )
      return false;
    let verified = false;
    try {
      const r = await verifySolution({
        challenge: payload.challenge,
        solution: payload.solution,
        deriveKey,
        hmacSignatureSecret: this.signatureKey,
        hmacKeySignatureSecret: this.keySignatureKey,
      });
      verified = r.verified;
    } catch {
      verified = false; // malformed parameters make the library throw; that is a forged payload
    }
    if (!verified) return false;
    return this.useOnce(`altcha:${p.nonce}`, p.expiresAt * 1000, now);
  }

  /** Records the nonce; false when it was already there (a replay), on either engine. */
  private async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    const db = this.d.db;
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      await deleteExpiredNonces(db, now);
    }
    return useNonce(db, key, expiresAt);
  }
}

function parsePayload(solution: string | undefined): Payload | null {
  if (typeof solution !== 'string' || !solution || solution.length > 8192) return null;
  try {
    const raw = JSON.parse(Buffer.from(solution, 'base64').toString('utf8'));
    const ok =
      raw &&
      typeof raw === 'object' &&
      raw.challenge &&
      typeof raw.challenge === 'object' &&
      raw.challenge.parameters &&
      typeof raw.challenge.parameters === 'object' &&
      typeof raw.challenge.signature === 'string' &&
      raw.solution &&
      typeof raw.solution === 'object' &&
      Number.isInteger(raw.solution.counter);
    return ok ? (raw as Payload) : null;
  } catch {
    return null;
  }
}
