import { domainToASCII, domainToUnicode } from 'node:url';
import unhomoglyph from 'unhomoglyph';
import { caseFold } from 'unicode-case-folding';
import type { FieldProblem } from '../errors.ts';
import { t } from '../i18n/index.ts';

// The one place identifiers are normalised (ID-01, ID-02). Every way an email or a username
// enters (registration, sign-in, reset, activation, external accounts, admin commands, rate-limit
// keys) goes through here, so two spellings of one mailbox or one handle can never be two keys.
//
// Case folding: JavaScript has no full Unicode case folding (toLowerCase() is not folding: it
// keeps ß, final sigma and lower-case Cherokee apart from their folded forms). `caseFold` from
// unicode-case-folding applies CaseFolding.txt's C+F mappings (full folding, not Turkic).
// NFKC, folding and NFKC again is NFKC_Casefold without its removal of default-ignorables: those
// are refused outright instead of being silently dropped.

const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{White_Space}\p{C}]/u;

/**
 * Leading and trailing spaces removed. Not String.prototype.trim, which also drops U+FEFF: an
 * invisible character must be refused, never silently taken away.
 */
export function trimSpaces(s: string): string {
  return s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

/** Compatibility form and full case folding: what two spellings must share to be one identifier. */
export function foldCase(s: string): string {
  return caseFold(s.normalize('NFKC')).normalize('NFKC');
}

// ---------------------------------------------------------------------------------------------
// Email (ID-01)

/** UTF-8 octets, which is what RFC 5321/6531 length limits count. */
const octets = (s: string) => Buffer.byteLength(s, 'utf8');
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const LOCAL_FORBIDDEN = /[@\s\p{C}\p{Default_Ignorable_Code_Point}]/u;

/**
 * The normalised address or undefined when the input is not an address we can normalise. Local
 * part: NFKC and full case folding. Domain: IDNA (UTS #46, as in URLs) to ASCII — punycode, lower
 * case, full-width dots mapped — with one trailing dot removed, then checked as a host name.
 * Address literals and quoted local parts are not accepted.
 */
export function normalizeEmail(input: string): string | undefined {
  // NFKC first, so a full-width at-sign or dot splits like the ASCII one.
  const trimmed = trimSpaces(input).normalize('NFKC');
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return undefined;
  const local = foldCase(trimmed.slice(0, at));
  if (!local || octets(local) > 64 || LOCAL_FORBIDDEN.test(local)) return undefined;
  let domain = domainToASCII(trimmed.slice(at + 1));
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (!domain || domain.length > 253) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l) && validPunycode(l))) return undefined;
  // The top-level label is letters (or an IDN): this refuses IP addresses as domains.
  const tld = labels[labels.length - 1];
  if (!/^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/.test(tld)) return undefined;
  const email = `${local}@${domain}`;
  return email.length <= 254 ? email : undefined;
}

/**
 * An `xn--` label must decode to Unicode. Node 20's IDNA refuses a bad one outright, Node 24's
 * passes it through unchanged, so "it decodes to something else" is the test both agree on.
 */
function validPunycode(label: string): boolean {
  if (!label.startsWith('xn--')) return true;
  const unicode = domainToUnicode(label);
  return unicode !== '' && unicode !== label;
}

/** The field problem for an address that does not normalise; its message is said when read (the reader's language). */
export const EMAIL_INVALID: FieldProblem = {
  field: 'email',
  code: 'invalid',
  get message() {
    return t('security.email_invalid');
  },
};

/**
 * The key an identifier containing '@' is looked up and counted under: the normalised address,
 * or, for input that does not normalise, a folded form of it (it names no account, but a
 * rate limit must still count every spelling of it together).
 */
export function emailKey(input: string): string {
  return normalizeEmail(input) ?? foldCase(trimSpaces(input));
}

// ---------------------------------------------------------------------------------------------
// Username (ID-02)

const USERNAME = /^[\p{L}\p{N}._-]{3,32}$/u;

/** Usernames are unique by compatibility form and full case folding. */
export function usernameKey(username: string): string {
  return foldCase(trimSpaces(username));
}

/**
 * The UTS #39 skeleton of a username's folded form: NFD, default-ignorables removed, every
 * character replaced by its prototype from the Unicode confusables table (unhomoglyph ships that
 * table), NFD again. Folding first makes it case-insensitive like the key. A dot above after a
 * soft-dotted letter (i + U+0307, what İ folds to) is invisible and dropped, as UTS #39 section 5.4
 * suggests, so `ZEDUNİ` and `zeduni` share a skeleton. Two usernames that look alike share one.
 */
export function usernameSkeleton(username: string): string {
  const nfd = usernameKey(username)
    .normalize('NFD')
    .replace(/\p{Default_Ignorable_Code_Point}/gu, '')
    .replace(/(\p{Soft_Dotted}\p{M}*?)\u0307/gu, '$1');
  return unhomoglyph(nfd).normalize('NFD');
}

// Script names as the regular expression engine knows them (ISO 15924 codes). The newest ones are
// tried and skipped when this Node's Unicode tables predate them.
const SCRIPTS =
  'Adlm Aghb Ahom Arab Armi Armn Avst Bali Bamu Bass Batk Beng Berf Bhks Bopo Brah Brai Bugi Buhd Cakm Cans Cari Cham Cher Chis Chrs Copt Cpmn Cprt Cyrl Deva Diak Dogr Dsrt Dupl Egyp Elba Elym Ethi Gara Geor Glag Gong Gonm Goth Gran Grek Gujr Gukh Guru Hang Hani Hano Hatr Hebr Hira Hluw Hmng Hmnp Hung Ital Java Kali Kana Kawi Khar Khmr Khoj Kits Knda Krai Kthi Lana Laoo Latn Lepc Limb Lina Linb Lisu Lyci Lydi Mahj Maka Mand Mani Marc Medf Mend Merc Mero Mlym Modi Mong Mroo Mtei Mult Mymr Nagm Nand Narb Nbat Newa Nkoo Nshu Ogam Olck Onao Orkh Orya Osge Osma Ougr Palm Pauc Perm Phag Phli Phlp Phnx Plrd Prti Rjng Rohg Runr Samr Sarb Saur Sgnw Shaw Shrd Sidd Sidt Sind Sinh Sogd Sogo Sora Soyo Sund Sunu Sylo Syrc Tagb Takr Tale Talu Taml Tang Tavt Tayo Telu Tfng Tglg Thaa Thai Tibt Tirh Tnsa Todr Tols Toto Tutg Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb';

// Tried in this order, the most used first: each set is compiled on first use (compiling all of
// them costs ~0.4 s once), and a Latin name needs only the first.
const SCRIPT_SETS: string[][] = [
  ...['Latn', 'Cyrl', 'Grek', 'Arab', 'Hebr', 'Hani', 'Hira', 'Kana', 'Hang', 'Deva', 'Thai'].map((s) => [s]),
  ['Latn', 'Hani', 'Hira', 'Kana'],
  ['Latn', 'Hani', 'Bopo'],
  ['Latn', 'Hani', 'Hang'],
  ...SCRIPTS.split(' ').map((s) => [s]),
];
const compiled = new Map<string, RegExp | null>();
function fitsScripts(s: string, codes: string[]): boolean {
  const name = codes.join('+');
  let re = compiled.get(name);
  if (re === undefined) {
    try {
      re = new RegExp(`^[${[...codes, 'Zyyy', 'Zinh'].map((c) => `\\p{scx=${c}}`).join('')}]*$`, 'u');
    } catch {
      re = null; // a script this engine's Unicode version does not know
    }
    compiled.set(name, re);
  }
  return re?.test(s) === true;
}

/**
 * UTS #39 "highly restrictive": every character fits one script (characters of Common and
 * Inherited, such as digits and . _ -, fit any; a character used by several scripts fits each,
 * per Script_Extensions), or the name is covered by Latin with the scripts written together in
 * Japanese, Chinese (Bopomofo) or Korean.
 */
export function singleScript(s: string): boolean {
  return SCRIPT_SETS.some((codes) => fitsScripts(s, codes));
}

/** Decimal digits all from one system (UTS #39: no 1 next to a look-alike digit of another script). */
function oneDigitSystem(s: string): boolean {
  const zeros = new Set<number>();
  for (const ch of s) {
    if (!/\p{Nd}/u.test(ch)) continue;
    // Decimal digits come in runs of ten from their zero; walk back to the start of the run.
    let cp = ch.codePointAt(0) as number;
    let start = cp;
    while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
    cp = start + Math.floor((cp - start) / 10) * 10;
    zeros.add(cp);
  }
  return zeros.size <= 1;
}

export interface UsernameForms {
  /** shown and stored: NFKC of what was typed */
  username: string;
  /** unique key: NFKC + full case folding */
  key: string;
  /** UTS #39 confusable skeleton of the key */
  skeleton: string;
}

/** The username's forms, or the field problem that refuses it (before any database look-up). */
export function checkUsername(
  input: string,
): { ok: true; forms: UsernameForms } | { ok: false; problem: FieldProblem } {
  const username = trimSpaces(input).normalize('NFKC');
  const refuse = (code: string, message: string) => ({
    ok: false as const,
    problem: { field: 'username', code, message },
  });
  if (INVISIBLE.test(username)) return refuse('invisible', t('security.username.invisible'));
  if (!USERNAME.test(username)) return refuse('invalid', t('security.username.rule'));
  if (!singleScript(username) || !oneDigitSystem(username))
    return refuse('mixed_script', t('security.username.mixed_script'));
  return { ok: true, forms: { username, key: usernameKey(username), skeleton: usernameSkeleton(username) } };
}

export function validUsername(username: string): boolean {
  return checkUsername(username).ok;
}

/** "This username is taken", in the reader's language. */
export const usernameTaken = (): string => t('security.username.taken');
export const USERNAME_CONFUSABLE: FieldProblem = {
  field: 'username',
  code: 'confusable',
  get message() {
    return t('security.username.confusable');
  },
};

// ---------------------------------------------------------------------------------------------

/**
 * What a sign-in identifier ("username or email") names: the account column it is looked up in
 * and its key there, or no key for an address that does not normalise (it names no account).
 * NFKC comes first, so a full-width at-sign makes an email like the ASCII one.
 */
export function identifierLookup(identifier: string): {
  column: 'username_key' | 'email_key';
  key: string | undefined;
} {
  const id = trimSpaces(identifier).normalize('NFKC');
  return id.includes('@')
    ? { column: 'email_key', key: normalizeEmail(id) }
    : { column: 'username_key', key: usernameKey(id) };
}

/**
 * The canonical form of a sign-in identifier, the one key every limit counts it under (sign-in
 * step-up and lockout, reset and activation limits): the account's lookup key from
 * `identifierLookup`, so every spelling of one account counts together; an address that does
 * not normalise still gets a folded key of its own.
 */
export function identifierKey(identifier: string): string {
  return identifierLookup(identifier).key ?? foldCase(trimSpaces(identifier).normalize('NFKC'));
}
