import type { Kysely } from 'kysely';
import { Gauge } from 'prom-client';
import type { LimitsConfig, Rate } from '../config/index.ts';
import type { RequestContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Kernel } from '../kernel.ts';
import { outageOf } from '../store/outage.ts';
import type { Database } from '../store/schema.ts';
import { type Counter, CounterStore, subjectKey } from './counters.ts';
import type { Guard, GuardedAction, SignInAttempt, SignInGate } from './guard.ts';
import { ipGroup } from './ip-group.ts';
import { type LockoutDeps, SignInLockout } from './lockout.ts';

/** What this module uses of the container the composition root builds. */
export type LimitsDeps = Pick<Kernel, 'config' | 'log' | 'secret' | 'audit' | 'metrics'> & LockoutDeps;

// Counters for rate limits and lockouts. One process counts in memory; with LATCHKEY_REDIS_URL
// every process counts in the same Redis, so an attacker gains nothing by spreading requests
// over the processes behind a load balancer. Counter keys never hold an identifier in clear: a
// keyed hash, so Redis does not become a list of who tried to sign in.

export type { Rate } from '../config/index.ts';

/** Built and checked at start by src/config/sections.ts. */
export type LimitSettings = LimitsConfig;

/** The counter key for the client: its IPv4 address, or its IPv6 network (`ipv6Prefix` bits, BF-02). */
export function ipKey(ctx: RequestContext, ipv6Prefix = 64): string {
  return ctx.ip ? ipGroup(ctx.ip, ipv6Prefix) : 'unknown';
}

export function tooMany(retryAfterMs: number): AppError {
  return new AppError('rate_limited', undefined, { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
}

/**
 * The real abuse guard: per-IP and per-subject request limits (BF-02), silent quotas (REC-06,
 * OTP-05) and the sign-in lockout. A 429 names neither the account nor which limit was hit.
 */
export class LimitGuard implements Guard {
  private readonly ipLimits = new Map<GuardedAction, Counter>();
  private readonly subjectLimits = new Map<GuardedAction, Counter>();
  private readonly quotas: Record<QuotaName, Counter>;
  private readonly lockout: SignInLockout;

  constructor(
    private readonly d: LimitsDeps,
    readonly settings: LimitSettings,
    private readonly store: CounterStore,
  ) {
    const scaled = (r: Rate): Rate => ({ points: r.points * settings.scale, windowMs: r.windowMs });
    for (const [action, rate] of Object.entries(settings.perIp) as [GuardedAction, Rate][])
      this.ipLimits.set(action, store.counter(`ip-${action}`, scaled(rate)));
    for (const [action, rate] of Object.entries(settings.perSubject) as [GuardedAction, Rate][])
      this.subjectLimits.set(action, store.counter(`id-${action}`, scaled(rate)));
    // Quotas are not scaled: they never change an answer, and tests of a cap want the real one.
    this.quotas = {
      reset_mail: store.counter('quota-reset-mail', settings.quotas.reset_mail),
      otp_message: store.counter('quota-otp-message', settings.quotas.otp_message),
      lockout_notice: store.counter('quota-lockout-notice', settings.quotas.lockout_notice),
      sms_budget: store.counter('quota-sms-budget', settings.quotas.sms_budget),
    };
    this.lockout = new SignInLockout(
      d,
      settings,
      store,
      (ctx) => ipKey(ctx, settings.ipv6Prefix),
      (accountId) => this.allow('lockout_notice', accountId),
    );
  }

  async limit(action: GuardedAction, ctx: RequestContext, subject?: string): Promise<void> {
    const checks: [Counter | undefined, string, 'ip' | 'identifier'][] = [
      [this.ipLimits.get(action), ipKey(ctx, this.settings.ipv6Prefix), 'ip'],
      [subject ? this.subjectLimits.get(action) : undefined, subject ? subjectKey(this.d, subject) : '', 'identifier'],
    ];
    for (const [counter, key, scope] of checks) {
      if (!counter) continue;
      const r = await this.guarded(() => counter.hit(key), { ok: true, count: 0, retryAfterMs: 0 });
      if (r.ok) continue;
      // Recorded once per window and scope, so a flood does not flood the audit trail too.
      if (r.count === counter.points + 1)
        await this.d.audit.record('rate_limited', ctx, { details: { action, scope } });
      throw tooMany(r.retryAfterMs);
    }
  }

  async allow(quota: QuotaName, subject: string, exhausted?: () => Promise<void>): Promise<boolean> {
    const r = await this.guarded(() => this.quotas[quota].hit(subjectKey(this.d, subject)), {
      ok: true,
      count: 0,
      retryAfterMs: 0,
    });
    if (!r.ok) {
      this.d.log.info({ quota }, 'quota used up; nothing sent');
      // The counter is atomic (in Redis across processes): one request per window sees this count.
      if (exhausted && r.count === this.quotas[quota].points + 1) await exhausted();
    }
    return r.ok;
  }

  signInGate(identifierKey: string, ctx: RequestContext, accountId?: string | null): Promise<SignInGate> {
    return this.guarded(() => this.lockout.gate(identifierKey, ctx, accountId), {
      locked: false,
      captchaRequired: true,
      failuresCounted: true,
    });
  }

  signInStepUp(identifierKey: string, ctx: RequestContext): Promise<boolean> {
    // Counters unavailable: ask for the CAPTCHA (fail closed).
    return this.guarded(() => this.lockout.stepUp(identifierKey, ctx), true);
  }

  /** Not guarded: the count lives in the database, and without it no sign-in can proceed anyway. */
  signInReserve(identifierKey: string, accountId: string | null, _ctx: RequestContext): Promise<SignInAttempt> {
    return this.lockout.reserve(identifierKey, accountId);
  }

  signInFailed(
    identifierKey: string,
    accountId: string | null,
    ctx: RequestContext,
    attempt?: SignInAttempt,
  ): Promise<void> {
    return this.guarded(() => this.lockout.failed(identifierKey, accountId, ctx, attempt), undefined);
  }

  signInSucceeded(
    identifierKey: string,
    accountId: string,
    ctx: RequestContext,
    _attempt?: SignInAttempt,
  ): Promise<void> {
    return this.guarded(() => this.lockout.succeeded(identifierKey, accountId, ctx), undefined);
  }

  passwordChanged(accountId: string, trx?: Kysely<Database>): Promise<void> {
    return this.guarded(() => this.lockout.clear(accountId, trx), undefined);
  }

  degraded(): string[] {
    return this.store.degraded();
  }

  /** Waits for work the guard does after a request has its answer (a lockout's audit row and notice). */
  settled(): Promise<void> {
    return this.lockout.settled();
  }

  async close(): Promise<void> {
    await this.lockout.settled();
    await this.store.close();
  }

  /**
   * The in-memory fallback covers a Redis outage; anything else failing in the counters must
   * not turn a sign-in into a 500. It is logged, and the caller gets the safe default.
   */
  private async guarded<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // A database outage is the request's answer (503, AV-01), not a counter to do without.
      if (err instanceof AppError || DATABASE.has(outageOf(err) ?? '')) throw err;
      this.d.log.warn({ err }, 'abuse counters unavailable');
      return fallback;
    }
  }
}

const DATABASE = new Set(['postgres', 'sqlite']);

type QuotaName = 'reset_mail' | 'otp_message' | 'lockout_notice' | 'sms_budget';

export async function createGuard(d: LimitsDeps): Promise<LimitGuard> {
  const settings = d.config.limits;
  const store = await CounterStore.open(settings);
  const guard = new LimitGuard(d, settings, store);
  new Gauge({
    name: 'latchkey_degraded',
    help: 'Dependencies the service runs without for now (1: degraded), e.g. redis: counting per process (AV-03)',
    labelNames: ['dependency'] as const,
    registers: [d.metrics.registry],
    collect() {
      this.set({ dependency: 'redis' }, guard.degraded().includes('redis') ? 1 : 0);
    },
  });
  return guard;
}
