import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Kernel } from '../../kernel.ts';
import { captchaRequiredNext, checkPassword, type PasswordSignInDeps } from '../../methods/password/signin.ts';
import type { SignInProof } from '../../security/amr.ts';
import type { Account } from '../../store/accounts.ts';
import type { AccountDeletion } from '../profile/deletion.ts';
import type { Session, SessionService } from '../sessions/service.ts';

/** What this module uses of the container the composition root builds. */
export type SignInDeps = Pick<Kernel, 'audit' | 'metrics'> & {
  sessions: SessionService;
  deletion: Pick<AccountDeletion, 'cancelOnSignIn'>;
} & PasswordSignInDeps;

export interface SignedIn {
  token: string;
  session: Session;
  account: Account;
  /** this sign-in cancelled a pending account deletion (the pages say so) */
  deletionCancelled?: boolean;
}

/**
 * The sign-in flow. Each method (password, external account, QR …) proves who the user is and
 * then calls `complete`, the single step where a session is issued — and where second factors
 * are enforced once they exist (BF-05), so no method can skip them.
 */
export class SignInService {
  constructor(private readonly d: SignInDeps) {}

  async withPassword(
    input: { identifier: string; password: string; captcha?: string },
    ctx: RequestContext,
  ): Promise<SignedIn> {
    const account = await checkPassword(this.d, input, ctx);
    return this.complete(account, { method: 'password', amr: ['pwd'] }, ctx);
  }

  /**
   * Whether the next password sign-in for `identifier` must carry a CAPTCHA, so the page can
   * show it up front (BF-04). Unknown identifiers are counted like real ones: this reveals
   * nothing about the account.
   */
  captchaRequired(identifier: string, ctx: RequestContext): Promise<boolean> {
    return captchaRequiredNext(this.d, identifier, ctx);
  }

  /** Issues a new session (SES-02: a fresh token at every sign-in) and records the success. */
  async complete(account: Account, proof: SignInProof, ctx: RequestContext): Promise<SignedIn> {
    if (account.status !== 'active') throw new AppError('invalid_credentials');
    const { method } = proof;
    // Signing in during a deletion's grace period keeps the account (issue 17, docs/profile.md).
    const deletionCancelled = await this.d.deletion.cancelOnSignIn(account, ctx);
    const { token, session } = await this.d.sessions.create(account, proof, ctx);
    await this.d.audit.record('sign_in.succeeded', ctx, { accountId: account.id, details: { method } });
    this.d.metrics.signIns.inc({ method, outcome: 'success' });
    return deletionCancelled ? { token, session, account, deletionCancelled } : { token, session, account };
  }
}
