import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from './config/index.ts';
import type { Outbox } from './delivery/outbox.ts';
import type { Branding } from './delivery/templates.ts';
import type { DeliveryWorker } from './delivery/worker.ts';
import type { Metrics } from './metrics.ts';
import type { Audit } from './security/audit.ts';
import type { Captcha } from './security/captcha.ts';
import type { Clock } from './security/clock.ts';
import type { Guard } from './security/guard.ts';
import type { PasswordHasher } from './security/password-hash.ts';
import type { PasswordPolicy } from './security/password-policy.ts';
import type { Random } from './security/random.ts';
import type { Engine, Store } from './store/db.ts';
import type { Database } from './store/schema.ts';

/**
 * The plain infrastructure every module may ask for: configuration, store, injected clock and
 * randomness, the security layer and delivery. It imports only leaf modules, so a service can
 * name the slice it uses (`Pick<Kernel, 'db' | 'clock'>`) without importing the composition root
 * (src/deps.ts), which imports every service.
 */
export interface Kernel {
  config: Config;
  store: Store;
  db: Kysely<Database>;
  engine: Engine;
  clock: Clock;
  random: Random;
  log: Logger;
  secret: string;
  brand: Branding;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  outbox: Outbox;
  worker: DeliveryWorker;
  audit: Audit;
  metrics: Metrics;
  guard: Guard;
  captcha: Captcha;
}
