import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ConfigError, type Rate } from '../config/index.ts';
import type { Kernel } from '../kernel.ts';
import { keyedHash } from './hashing.ts';

// The counters behind rate limits and the sign-in lockout's step-up, in memory or in Redis. Kept
// apart from limits.ts so the lockout, which limits.ts builds, needs nothing back from it.

/** A named counter: `hit` counts one and says whether the quota still held. */
export class Counter {
  constructor(private readonly limiter: RateLimiterAbstract) {}

  get points(): number {
    return this.limiter.points;
  }

  /** Counts one; `ok` is false once more than `points` were counted in the window. */
  async hit(key: string): Promise<{ ok: boolean; count: number; retryAfterMs: number }> {
    try {
      const res = await this.limiter.consume(key);
      return { ok: true, count: res.consumedPoints, retryAfterMs: 0 };
    } catch (err) {
      if (err instanceof RateLimiterRes)
        return { ok: false, count: err.consumedPoints, retryAfterMs: err.msBeforeNext };
      throw err;
    }
  }

  async count(key: string): Promise<number> {
    const res = await this.limiter.get(key);
    return res?.consumedPoints ?? 0;
  }

  /** Milliseconds until a block set with `block` ends, 0 when not blocked. */
  async blockedFor(key: string): Promise<number> {
    const res = await this.limiter.get(key);
    return res && res.consumedPoints > this.limiter.points ? res.msBeforeNext : 0;
  }

  async block(key: string, ms: number): Promise<void> {
    await this.limiter.block(key, Math.max(1, Math.ceil(ms / 1000)));
  }

  async clear(key: string): Promise<void> {
    await this.limiter.delete(key);
  }

  /** Gives back one counted point (an attempt that turned out not to count). */
  async reward(key: string): Promise<void> {
    await this.limiter.reward(key, 1);
  }
}

/** Makes counters in memory, or in Redis with an in-memory fallback while Redis is unreachable. */
export class CounterStore {
  private constructor(
    private readonly redis: Redis | undefined,
    private readonly prefix: string,
  ) {}

  static async open(s: { redisUrl?: string; redisPrefix: string; redisTimeoutMs?: number }): Promise<CounterStore> {
    if (!s.redisUrl) return new CounterStore(undefined, s.redisPrefix);
    // No offline queue: while Redis is down a request must not hang waiting for it; and a Redis
    // that accepts connections but does not answer (frozen) times out the same way (AV-02).
    const timeout = s.redisTimeoutMs ?? 2000;
    // Loaded only when Redis is configured: ioredis took 130 ms to import.
    const { Redis } = await import('ioredis');
    const redis = new Redis(s.redisUrl, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: timeout,
      commandTimeout: timeout,
    });
    redis.on('error', () => {}); // reconnects by itself; the insurance limiter covers the gap
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      // Refuse to start rather than silently count per process: limits would be N times looser.
      throw new ConfigError([`LATCHKEY_REDIS_URL: cannot connect (${(err as Error).message})`]);
    }
    return new CounterStore(redis, s.redisPrefix);
  }

  counter(name: string, rate: Rate): Counter {
    const opts = {
      keyPrefix: `${this.prefix}:${name}`,
      points: rate.points,
      duration: Math.max(1, Math.ceil(rate.windowMs / 1000)),
    };
    if (!this.redis) return new Counter(new RateLimiterMemory(opts));
    return new Counter(
      new RateLimiterRedis({
        ...opts,
        storeClient: this.redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory(opts),
      }),
    );
  }

  get shared(): boolean {
    return this.redis !== undefined;
  }

  /** ['redis'] while the shared Redis is unreachable and counters fall back to this process's memory (AV-03). */
  degraded(): string[] {
    return this.redis && this.redis.status !== 'ready' ? ['redis'] : [];
  }

  async close(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}

/** The counter key for a subject (identifier, account id, phone number): a keyed hash, never clear text. */
export function subjectKey(d: Pick<Kernel, 'secret'>, subject: string): string {
  return keyedHash(d.secret, 'limit', subject.trim().toLowerCase()).slice(0, 32);
}
