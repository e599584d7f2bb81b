import { Redis } from 'ioredis';
import { REDIS_URL } from './env.ts';

export async function redisAvailable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Deletes every key under `prefix:`, so earlier runs leave no counters behind. */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length) await r.del(...keys);
  } finally {
    r.disconnect();
  }
}
