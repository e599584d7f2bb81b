import { type Algorithm, hash, parseOptions, verify } from '@node-rs/argon2';

// Algorithm is an ambient const enum (not importable as a value under isolatedModules).
const ARGON2ID = 2 as Algorithm;

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/**
 * argon2id (PWD-07). @node-rs/argon2 hashes on the libuv thread pool, so the event loop keeps
 * serving other requests while a hash runs.
 */
export class PasswordHasher {
  private dummy?: Promise<string>;
  constructor(private readonly params: Argon2Params) {}

  hash(password: string): Promise<string> {
    return hash(password, { algorithm: ARGON2ID, ...this.params });
  }

  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends the same work as a real verification, for unknown users and accounts without a
   * password, so timing does not tell whether an account exists (ENUM-01).
   */
  async burn(password: string): Promise<void> {
    this.dummy ??= this.hash('latchkey-dummy-password-for-timing');
    await this.verify(await this.dummy, password);
  }

  /** True when the stored hash was made with other parameters (rehash on next sign-in). */
  needsRehash(stored: string): boolean {
    try {
      const p = parseOptions(stored);
      return (
        p.algorithm !== ARGON2ID ||
        p.memoryCost !== this.params.memoryCost ||
        p.timeCost !== this.params.timeCost ||
        p.parallelism !== this.params.parallelism
      );
    } catch {
      return true;
    }
  }
}
