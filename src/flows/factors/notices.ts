import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatTime, renderMail } from '../../delivery/templates.ts';
import type { Kernel } from '../../kernel.ts';
import type { Account } from '../../store/accounts.ts';
import type { Database } from '../../store/schema.ts';

// The mails about second factors (LOG-03, MFA-05, MFA-06), queued through the outbox in the
// transaction of the change. They name what changed, never a secret.

export type FactorNoticeDeps = Pick<Kernel, 'config' | 'clock' | 'brand' | 'outbox'>;

export type FactorNotice =
  | { kind: 'factor_added'; factor: string }
  | { kind: 'factor_removed'; factor: string }
  | { kind: 'recovery_codes_regenerated' }
  | { kind: 'recovery_code_used'; left: number };

const TEXT: { [K in FactorNotice['kind']]: (n: Extract<FactorNotice, { kind: K }>) => [string, string] } = {
  factor_added: (n) => ['A second factor was added', `A second factor (${n.factor}) was added to your account`],
  factor_removed: (n) => ['A second factor was removed', `A second factor (${n.factor}) was removed from your account`],
  recovery_codes_regenerated: () => [
    'New recovery codes were created',
    'A new set of recovery codes was created for your account; the old codes no longer work. This happened',
  ],
  recovery_code_used: (n) => [
    'A recovery code was used to sign in',
    `Someone signed in to your account with a recovery code (${n.left} left)`,
  ],
};

export async function sendFactorNotice(
  d: FactorNoticeDeps,
  db: Kysely<Database>,
  account: Pick<Account, 'username' | 'email'>,
  n: FactorNotice,
  ctx: RequestContext,
): Promise<void> {
  if (!account.email) return;
  const [title, line] = (TEXT[n.kind] as (x: FactorNotice) => [string, string])(n);
  const mail = renderMail(d.brand, {
    subject: title,
    title,
    lines: [
      `${line} ${account.username} on ${formatTime(d.clock.now())}.`,
      `Browser: ${ctx.userAgent ? ctx.userAgent.slice(0, 160) : 'unknown'}`,
      `IP address: ${ctx.ip || 'unknown'}`,
    ],
    after: [
      `If this wasn't you, reset your password at ${d.config.publicUrl}/forgot-password, review Settings → Two-step verification, and tell ${d.brand.supportContact} right away.`,
    ],
  });
  await d.outbox.send(db, { channel: 'email', kind: n.kind, to: account.email, ...mail });
}
