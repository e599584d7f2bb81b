import { availableParallelism } from 'node:os';
import type { Algorithm } from '@node-rs/argon2';
import { HashThreads } from './hash-threads.ts';

// Algorithm is an ambient const enum (not importable as a value under isolatedModules).
const ARGON2ID = 2 as Algorithm;
// The parameters of an argon2id hash, version 0x13, in its PHC string.
const PHC_PARAMS = /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** Threads that hash by default: one per CPU. */
export function defaultHashThreads(cpus = availableParallelism()): number {
  return Math.max(1, cpus);
}

/**
 * argon2id (PWD-07), computed on threads of its own (HashThreads), so the event loop keeps
 * serving other requests while a hash runs, and at most `threads` hashes run at once.
 */
export class PasswordHasher {
  private dummy?: Promise<string>;
  private readonly pool: HashThreads;
  /**
   * Hashes started, by kind: `verify` checks a real password, `burn` spends the same work on
   * the dummy hash (ENUM-01), `hash` makes a new one. Proves how many password checks a burst
   * got (BF-06); exported as latchkey_password_hashes_total.
   */
  readonly hashesRun = { verify: 0, burn: 0, hash: 0 };

  constructor(
    private readonly params: Argon2Params,
    threads = defaultHashThreads(),
  ) {
    this.pool = new HashThreads(threads);
  }

  /** How many hashes run at once at most. */
  get threads(): number {
    return this.pool.size;
  }

  /** Hashes being computed, and waiting for a thread, for the metrics. */
  get load(): { running: number; waiting: number } {
    return this.pool.load;
  }

  hash(password: string): Promise<string> {
    this.hashesRun.hash++;
    return this.pool.run<string>({ op: 'hash', password, params: { algorithm: ARGON2ID, ...this.params } });
  }

  verify(stored: string, password: string): Promise<boolean> {
    this.hashesRun.verify++;
    return this.check(stored, password);
  }

  private async check(stored: string, password: string): Promise<boolean> {
    try {
      return await this.pool.run<boolean>({ op: 'verify', stored, password });
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /**
   * Spends the same work as a real verification, for unknown users and accounts without a
   * password, so timing does not tell whether an account exists (ENUM-01). Never throws, like
   * `verify`: an unknown user must not get an error where a known one gets a wrong password.
   */
  async burn(password: string): Promise<void> {
    try {
      this.dummy ??= this.hash('latchkey-dummy-password-for-timing');
      const dummy = await this.dummy;
      this.hashesRun.burn++;
      await this.check(dummy, password);
    } catch {
      // The dummy hash was lost with its thread (or hashing has stopped): made again next time.
      this.dummy = undefined;
    }
  }

  /**
   * Whether `stored` was made with other parameters than ours. Read from the PHC string itself
   * (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`): the library's parser decodes the whole hash and
   * cost tens of microseconds on the event loop of every sign-in. Anything unexpected,
   * including another algorithm or version, asks for a rehash.
   */
  needsRehash(stored: string): boolean {
    const m = PHC_PARAMS.exec(stored);
    return (
      !m ||
      Number(m[1]) !== this.params.memoryCost ||
      Number(m[2]) !== this.params.timeCost ||
      Number(m[3]) !== this.params.parallelism
    );
  }
}
