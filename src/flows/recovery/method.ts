import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import type { Deps } from '../../deps.ts';
import type { Account } from '../../store/accounts.ts';
import type { Database } from '../../store/schema.ts';
import { keyedHash } from '../../security/hashing.ts';

/**
 * A way to deliver a password-reset secret (email link + code, email OTP, SMS OTP, …).
 *
 * The recovery flow (service.ts) owns everything that must be the same for every method: the
 * CAPTCHA, rate limits, the identical 202 answer, superseding earlier secrets, the mail cap,
 * single-use consumption, the password policy and `applyPasswordChange`. A method only decides
 * whether it can reach an account and writes its secret:
 *
 *   - `issue` runs inside the request's transaction. It inserts ONE `recovery_codes` row with
 *     `method = this.id`, the given `flowId`, `token_hash = sha256(token)` for a link token
 *     (>= 128 bits, REC-01) and/or `code_hash = recoveryCodeHash(d, account.id, code)` for a typed
 *     code (>= 40 bits), `expires_at = now + ttl`; then queues its message with
 *     `d.outbox.send(trx, …)`. It never stores a secret in clear and never sends directly.
 *   - Completion needs nothing from the method: the flow finds link tokens by `token_hash` and
 *     typed codes by account + `recoveryCodeHash`, whichever method issued them.
 *
 * To add a method: create `src/methods/<name>/`, export a `RecoveryMethod`, and call
 * `registerRecoveryMethod(it)` once at start (e.g. from your service's constructor). Which of the
 * registered methods a request uses is decided by `setRecoveryMethodSelector` (default: every
 * registered method marked `byDefault` that can deliver to the account), so per-organization
 * choices plug in there without touching the flow or the other methods.
 */
export interface RecoveryMethod {
  id: 'email_link' | 'email_otp' | 'sms_otp' | (string & {});
  /** what the user is told the secret went to, e.g. "email" */
  label: string;
  /** used when no selector says otherwise */
  byDefault: boolean;
  canDeliver(account: Account): boolean;
  /**
   * For methods whose typed code is bound to the flow that issued it (OTP-03): the keyed hash of
   * a typed code for one row. Such rows are only compared when the completion names their flow.
   */
  codeHash?(d: Deps, row: { flow_id: string | null; account_id: string }, code: string): string;
  /** extra limits on a request that chose this method (e.g. SMS sends per IP, OTP-05); throws 429 */
  beforeRequest?(d: Deps, ctx: RequestContext, identifierKey: string): Promise<void>;
  /** the answer to a request that chose this method, when it differs from the email link's */
  requestedMessage?: string;
  issue(d: Deps, trx: Kysely<Database>, account: Account, flowId: string, ctx: RequestContext): Promise<void>;
}

/** `requested` is the method the user picked on the request, if any. */
export type RecoveryMethodSelector = (
  d: Deps,
  account: Account,
  registered: RecoveryMethod[],
  requested?: string,
) => Promise<RecoveryMethod[]> | RecoveryMethod[];

const registry = new Map<string, RecoveryMethod>();

const defaultSelector: RecoveryMethodSelector = (_d, account, registered) => registered.filter((m) => m.byDefault && m.canDeliver(account));
let selector: RecoveryMethodSelector = defaultSelector;

export function registerRecoveryMethod(method: RecoveryMethod): void {
  registry.set(method.id, method);
}

export function recoveryMethods(): RecoveryMethod[] {
  return [...registry.values()];
}

export function recoveryMethod(id: string): RecoveryMethod | undefined {
  return registry.get(id);
}

/** Replaces the choice of methods per account (e.g. per-organization settings). */
export function setRecoveryMethodSelector(next: RecoveryMethodSelector): void {
  selector = next;
}

export async function methodsFor(d: Deps, account: Account, requested?: string): Promise<RecoveryMethod[]> {
  const chosen = await selector(d, account, recoveryMethods(), requested);
  // A selector may only choose among methods that can actually reach this account.
  return chosen.filter((m) => m.canDeliver(account));
}

/**
 * Keyed hash of a typed reset code, bound to the account (REC-03: A's code with B's identifier
 * is a different hash) and to the server key (a stolen table cannot be brute-forced offline).
 */
export function recoveryCodeHash(d: Deps, accountId: string, code: string): string {
  return keyedHash(d.secret, `recovery:${accountId}`, normalizeResetCode(code));
}

/**
 * Crockford base32: 32 symbols, so 8 of them carry exactly 40 bits (REC-01). Typing forgives
 * case, dashes and spaces, and reads O as 0 and I/L as 1, the letters the alphabet leaves out.
 */
export const RESET_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const RESET_CODE_LENGTH = 8;

export function normalizeResetCode(typed: string): string {
  return typed
    .replace(/[\s-]/g, '')
    .toUpperCase()
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

export function formatResetCode(code: string): string {
  return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
}
