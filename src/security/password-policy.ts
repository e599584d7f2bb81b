import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';

// The single place every password-setting path (register, change, reset, first password) asks
// "is this password acceptable?". Rules: PWD-01..PWD-04 — length in code points after NFC,
// no composition rules, no truncation, and a blocklist of common, dictionary and
// context-specific passwords via zxcvbn.

export interface PasswordRules {
  minLength: number;
  maxLength: number;
  minScore: number;
}

export interface PasswordContext {
  username?: string | null;
  email?: string | null;
  productName?: string;
}

export interface PasswordReason {
  code: 'too_short' | 'too_long' | 'too_common' | 'too_weak' | 'contains_personal_info' | 'mismatch';
  message: string;
}

/** NFC-normalises (PWD-03) so that NFD and NFC input of the same text hash the same. */
export function normalizePassword(password: string): string {
  return password.normalize('NFC');
}

export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

let factory: ZxcvbnFactory | undefined;
function zxcvbn(): ZxcvbnFactory {
  factory ??= new ZxcvbnFactory({
    translations: en.translations,
    graphs: common.adjacencyGraphs,
    dictionary: { ...common.dictionary, ...en.dictionary },
    useLevenshteinDistance: true,
  });
  return factory;
}

/** Words from the context that must not make up the password (PWD-04). */
function contextWords(ctx: PasswordContext): string[] {
  const words = new Set<string>();
  const add = (w?: string | null) => {
    const v = w?.trim().toLowerCase();
    if (v && v.length >= 3) words.add(v);
  };
  add(ctx.username);
  add(ctx.email?.split('@')[0]);
  add(ctx.email);
  add(ctx.productName);
  for (const w of (ctx.productName ?? '').split(/\s+/)) add(w);
  return [...words];
}

export class PasswordPolicy {
  constructor(private readonly rules: PasswordRules) {}

  get minLength(): number {
    return this.rules.minLength;
  }
  get maxLength(): number {
    return this.rules.maxLength;
  }

  /** Cheap pre-check before any other work: an oversized password never reaches a hash (PWD-02). */
  tooLong(password: string): boolean {
    // String length >= code points, so a cheap length test bounds the loop below.
    return password.length > this.rules.maxLength * 2 || codePointLength(password) > this.rules.maxLength;
  }

  /** Returns every reason the password is refused; empty when it is acceptable. */
  check(rawPassword: string, ctx: PasswordContext = {}): PasswordReason[] {
    const password = normalizePassword(rawPassword);
    const reasons: PasswordReason[] = [];
    if (this.tooLong(password)) {
      return [{ code: 'too_long', message: `Use at most ${this.rules.maxLength} characters.` }];
    }
    const length = codePointLength(password);
    if (length < this.rules.minLength) {
      reasons.push({ code: 'too_short', message: `Use at least ${this.rules.minLength} characters.` });
      return reasons;
    }
    const lower = password.toLowerCase();
    const personal = contextWords(ctx).find((w) => lower.includes(w));
    if (personal) {
      reasons.push({
        code: 'contains_personal_info',
        message: 'Leave out your username, email address and the service name.',
      });
    }
    if (this.rules.minScore > 0) {
      const result = zxcvbn().check(password, contextWords(ctx));
      if (result.score < this.rules.minScore) {
        const common = result.sequence.some(
          (m) =>
            m.pattern === 'dictionary' &&
            (m as { dictionaryName?: string }).dictionaryName === 'passwords-common' &&
            m.token.length >= password.length - 2,
        );
        reasons.push(
          common
            ? { code: 'too_common', message: 'This is one of the most common passwords. Choose another.' }
            : {
                code: 'too_weak',
                // At most three short sentences: the verdict, zxcvbn's one most useful remark, the fix.
                message: [
                  'This password is too easy to guess.',
                  result.feedback.warning || result.feedback.suggestions[0] || '',
                  'Try a few unrelated words.',
                ]
                  .filter(Boolean)
                  .join(' '),
              },
        );
      }
    }
    return reasons;
  }
}
