import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';
import { t } from '../i18n/index.ts';

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

// zxcvbn speaks through our catalogs: its translations are its own keys ("straightRow"), each
// mapped here to a catalog message (English as @zxcvbn-ts/language-en words it).
const WARNINGS: Record<keyof typeof en.translations.warnings, string> = {
  straightRow: 'security.zxcvbn.warning.straight_row',
  keyPattern: 'security.zxcvbn.warning.key_pattern',
  simpleRepeat: 'security.zxcvbn.warning.simple_repeat',
  extendedRepeat: 'security.zxcvbn.warning.extended_repeat',
  sequences: 'security.zxcvbn.warning.sequences',
  recentYears: 'security.zxcvbn.warning.recent_years',
  dates: 'security.zxcvbn.warning.dates',
  topTen: 'security.zxcvbn.warning.top_ten',
  topHundred: 'security.zxcvbn.warning.top_hundred',
  common: 'security.zxcvbn.warning.common',
  similarToCommon: 'security.zxcvbn.warning.similar_to_common',
  wordByItself: 'security.zxcvbn.warning.word_by_itself',
  namesByThemselves: 'security.zxcvbn.warning.names_by_themselves',
  commonNames: 'security.zxcvbn.warning.common_names',
  userInputs: 'security.zxcvbn.warning.user_inputs',
  pwned: 'security.zxcvbn.warning.pwned',
};
const SUGGESTIONS: Record<keyof typeof en.translations.suggestions, string> = {
  l33t: 'security.zxcvbn.suggestion.l33t',
  reverseWords: 'security.zxcvbn.suggestion.reverse_words',
  allUppercase: 'security.zxcvbn.suggestion.all_uppercase',
  capitalization: 'security.zxcvbn.suggestion.capitalization',
  dates: 'security.zxcvbn.suggestion.dates',
  recentYears: 'security.zxcvbn.suggestion.recent_years',
  associatedYears: 'security.zxcvbn.suggestion.associated_years',
  sequences: 'security.zxcvbn.suggestion.sequences',
  repeated: 'security.zxcvbn.suggestion.repeated',
  longerKeyboardPattern: 'security.zxcvbn.suggestion.longer_keyboard_pattern',
  anotherWord: 'security.zxcvbn.suggestion.another_word',
  useWords: 'security.zxcvbn.suggestion.use_words',
  noNeed: 'security.zxcvbn.suggestion.no_need',
  pwned: 'security.zxcvbn.suggestion.pwned',
};
const ownKeys = <T extends Record<string, string>>(o: T) =>
  Object.fromEntries(Object.keys(o).map((k) => [k, k])) as { [K in keyof T]: string };

/** zxcvbn's remark (a translation key it answers) in the reader's language; '' for one we do not know. */
function remark(key: string | null | undefined, table: Record<string, string>): string {
  return key && Object.hasOwn(table, key) ? t(table[key] as string) : '';
}

let factory: ZxcvbnFactory | undefined;
function zxcvbn(): ZxcvbnFactory {
  factory ??= new ZxcvbnFactory({
    // Keys, not words: each comes back as it is and is said from our catalogs (remark()).
    translations: {
      warnings: ownKeys(WARNINGS),
      suggestions: ownKeys(SUGGESTIONS),
      // not shown: Latchkey never tells how long cracking would take
      timeEstimation: en.translations.timeEstimation,
    },
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
      return [{ code: 'too_long', message: t('security.password.too_long', { max: this.rules.maxLength }) }];
    }
    const length = codePointLength(password);
    if (length < this.rules.minLength) {
      reasons.push({ code: 'too_short', message: t('security.password.too_short', { min: this.rules.minLength }) });
      return reasons;
    }
    const lower = password.toLowerCase();
    const personal = contextWords(ctx).find((w) => lower.includes(w));
    if (personal) {
      reasons.push({
        code: 'contains_personal_info',
        message: t('security.password.personal'),
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
            ? { code: 'too_common', message: t('security.password.too_common') }
            : {
                code: 'too_weak',
                // At most three short sentences: the verdict, zxcvbn's one most useful remark, the fix.
                message: [
                  t('security.password.too_weak'),
                  remark(result.feedback.warning, WARNINGS) || remark(result.feedback.suggestions[0], SUGGESTIONS),
                  t('security.password.try_words'),
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
