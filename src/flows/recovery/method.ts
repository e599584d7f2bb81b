import type { FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import type { Branding } from '../../delivery/templates.ts';
import type { Kernel } from '../../kernel.ts';
import type { Method, MethodRegistry } from '../../methods/registry.ts';
import { keyedHash } from '../../security/hashing.ts';
import type { Account } from '../../store/accounts.ts';
import type { Database } from '../../store/schema.ts';

/**
 * A way to deliver a password-reset secret (email link + code, email OTP, SMS OTP, …).
 *
 * The recovery flow (service.ts) owns everything that must be the same for every method: the
 * CAPTCHA, rate limits, the identical 202 answer, superseding earlier secrets, the mail cap,
 * single-use consumption, the password policy and `applyPasswordChange`. A method only decides
 * whether it can reach an account and writes its secret:
 *
 *   - `issue` runs inside the request's transaction. It stores ONE code with
 *     `insertRecoveryCode(trx, …)` from src/store/recovery-codes.ts (never SQL of its own):
 *     `method = this.id`, the given `flowId`, `token_hash = sha256(token)` for a link token
 *     (>= 128 bits, REC-01) and/or `code_hash = recoveryCodeHash(d, account.id, code)` for a typed
 *     code (>= 40 bits), `expires_at = now + ttl`; then queues its message with
 *     `d.outbox.send(trx, …)`. It never stores a secret in clear and never sends directly.
 *   - Completion needs nothing from the method: the flow finds link tokens by `token_hash` and
 *     typed codes by account + `recoveryCodeHash`, whichever method issued them.
 *
 * To add a method: create `src/methods/<name>/index.ts` exporting a `RecoveryMethod`, and add it
 * to the list in the composition root (src/deps.ts). Its id, label, settings and page text then
 * appear in the chooser, the organization settings (page, API schema, OpenAPI) and /settings.
 * Which methods a request uses is the organization's choice (selector.ts): the ones it enables,
 * the one the user picked or else those marked `byDefault`, and only those that `canDeliver`.
 */
export interface RecoveryMethod extends Method<RecoveryMethodDeps> {
  id: 'email_link' | 'email_otp' | 'sms_otp' | (string & {});
  /** used when the user picked none (API clients, "Send Reset Email" on /settings) */
  byDefault: boolean;
  canDeliver(account: Account): boolean;
  /**
   * For methods whose typed code is bound to the flow that issued it (OTP-03): the keyed hash of
   * a typed code for one row. Such rows are only compared when the completion names their flow.
   */
  codeHash?(d: RecoveryMethodDeps, row: { flow_id: string | null; account_id: string }, code: string): string;
  /** extra limits on a request that chose this method (e.g. SMS sends per IP, OTP-05); throws 429 */
  beforeRequest?(d: RecoveryMethodDeps, ctx: RequestContext, identifierKey: string): Promise<void>;
  /** the answer to a request that chose this method, when it differs from the email link's */
  requestedMessage?: string;
  issue(
    d: RecoveryMethodDeps,
    trx: Kysely<Database>,
    account: Account,
    flowId: string,
    ctx: RequestContext,
  ): Promise<void>;
  page: RecoveryMethodPage;
}

/**
 * What the recovery flow hands its methods, their routes and jobs: the kernel's plain
 * infrastructure and the flow's services as narrow structural ports, so a method never imports
 * a service (the composition root passes its whole container, which has all of these).
 */
export interface RecoveryMethodDeps
  extends Pick<Kernel, 'audit' | 'clock' | 'config' | 'db' | 'guard' | 'metrics' | 'outbox' | 'random' | 'secret'> {
  organizations: {
    recoveryFor(account: Pick<Account, 'org_id'>, db?: Kysely<Database>): Promise<RecoverySettings>;
    brandFor(account: Pick<Account, 'org_id'>, db?: Kysely<Database>): Promise<Branding>;
    /** the organization a code page belongs to (from its way back), for its name and links */
    bySlug?(slug: string): Promise<{ slug: string; displayName: string } | undefined>;
  };
  recovery: { complete(input: ResetCompleteInput, ctx: RequestContext): Promise<{ message: string }> };
  recoveryMethods: RecoveryMethods;
}

/** A completion: a link token, or an identifier and a typed code, and the new password. */
export interface ResetCompleteInput {
  token?: string;
  identifier?: string;
  code?: string;
  /** the flow a flow-bound code (email/SMS OTP) was issued for, from the request's answer */
  flow?: string;
  password: string;
  passwordConfirm?: string;
}

/** What the method adds to the /forgot-password pages. */
export interface RecoveryMethodPage {
  /** the line above the form when this is the organization's only method */
  intro: string;
  /** where a request that picked this method goes on to, when the method returns a flow id (OTP-03) */
  codeEntry?(d: RecoveryMethodDeps, reply: FastifyReply, o: CodeEntryStart): FastifyReply | Promise<FastifyReply>;
}

export interface CodeEntryStart {
  flow: string;
  identifier: string;
  method: string;
  /** where "Try another method" leads (the organization's forgot-password page) */
  back: string;
  notice?: string;
}

/** The recovery methods of this process, built once in the composition root. */
export type RecoveryMethods = MethodRegistry<RecoveryMethod>;

/**
 * An organization's recovery settings, flat as they are stored and shown by the API: the methods
 * it enables and every registered method's numbers (`RecoveryMethod.settings`). A method folder
 * declares the names it reads with `declare module` on this interface, so they are typed.
 */
export interface RecoverySettings {
  methods: string[];
  [setting: string]: number | string[];
}

/** REC-06: a typed code is dead after this many wrong tries, whichever method issued it. */
export const MAX_CODE_ATTEMPTS = 5;

/** The path of the link in the reset mail; the page there only shows a form (REC-04). */
export const RESET_LINK_PATH = '/auth/reset/code';

/**
 * Keyed hash of a typed reset code, bound to the account (REC-03: A's code with B's identifier
 * is a different hash) and to the server key (a stolen table cannot be brute-forced offline).
 */
export function recoveryCodeHash(d: RecoveryMethodDeps, accountId: string, code: string): string {
  return keyedHash(d.secret, `recovery:${accountId}`, normalizeResetCode(code));
}

/**
 * Crockford base32: 32 symbols, so 8 of them carry exactly 40 bits (REC-01). Typing forgives
 * case, dashes and spaces, and reads O as 0 and I/L as 1, the letters the alphabet leaves out.
 */
export const RESET_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const RESET_CODE_LENGTH = 8;

export function normalizeResetCode(typed: string): string {
  return typed.replace(/[\s-]/g, '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1');
}

export function formatResetCode(code: string): string {
  return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
}
