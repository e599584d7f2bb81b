import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import type { Kernel } from '../../kernel.ts';
import type { Database } from '../../store/schema.ts';

/** What this module uses of the container the composition root builds. */
export type SmsBudgetDeps = Pick<Kernel, 'config' | 'db' | 'audit' | 'metrics' | 'guard'>;

/**
 * The install-wide SMS budget, LATCHKEY_SMS_BUDGET (OTP-05). SMS pumping spreads over many numbers,
 * accounts and addresses, so the per-number and per-account caps alone do not bound the bill.
 * Every SMS about to be queued spends one from a single counter in the guard (in Redis when
 * configured, so all processes share it). Past the budget nothing more is queued and the caller
 * answers exactly as when it sends (no enumeration); each SMS withheld is counted in
 * `latchkey_sms_budget_exhausted_total`, and the first of each window is audited as
 * `sms.budget_exhausted` (once, not per request). `db` is the caller's transaction, if in one.
 */
export async function smsBudgetAllows(
  d: SmsBudgetDeps,
  ctx: RequestContext,
  db: Kysely<Database> = d.db,
): Promise<boolean> {
  const ok = await d.guard.allow('sms_budget', 'install', () =>
    d.audit.record('sms.budget_exhausted', ctx, { details: { budget: d.config.sms.budget.text } }, db),
  );
  if (!ok) d.metrics.smsBudgetExhausted.inc();
  return ok;
}
