import { readFileSync } from 'node:fs';
import { FAMILIES, SETTINGS, type Setting } from './schema.ts';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90`, `10s`, `30m`, `1h`, `7d` (and `250ms` for tests) into milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(raw);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']);
}

type Raw = Record<string, string | undefined>;

export interface Rate {
  points: number;
  windowMs: number;
}

/** A `rate` setting: the parsed `N/window` and the text as configured (for audit details). */
export interface RateSetting extends Rate {
  text: string;
}

/** Reads `N/window` (e.g. `5/1h`); undefined when it is not one. */
export function parseRate(raw: string): RateSetting | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(raw);
  const windowMs = m ? parseDuration(m[2]) : undefined;
  if (!m || !windowMs || Number(m[1]) < 1) return undefined;
  return { points: Number(m[1]), windowMs, text: raw };
}

type Schema = (typeof SETTINGS)[number];
type ValueOf<S extends Schema> = S extends { kind: 'int' | 'duration' }
  ? number
  : S extends { kind: 'bool' }
    ? boolean
    : S extends { kind: 'list' }
      ? string[]
      : S extends { kind: 'rate' }
        ? RateSetting
        : S extends { kind: 'enum'; values: readonly (infer V)[] }
          ? V
          : string;

/**
 * Every setting by env name, typed from its schema entry: int and duration (ms) are numbers, bool
 * a boolean, list a string[], rate a RateSetting, enum the union of its values, the rest strings;
 * a setting without a default may be undefined.
 */
export type Settings = {
  readonly [S in Schema as S['env']]: S['default'] extends string ? ValueOf<S> : ValueOf<S> | undefined;
};

/** Family members by family prefix, then by NAME, then by part: `LATCHKEY_OIDC_` → `CORP` → `ISSUER`. */
export type FamilyValues = Record<string, Map<string, Record<string, string>>>;

function parseOne(setting: Setting, raw: string, problems: string[]): unknown {
  const bad = (why: string) => {
    problems.push(`${setting.env}=${JSON.stringify(raw.slice(0, 80))}: ${why}`);
    return undefined;
  };
  switch (setting.kind) {
    case 'string':
      return raw;
    case 'secret':
      if (raw.length < 32) return bad('must be at least 32 characters');
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) return bad('must be a whole number');
      const n = Number(raw);
      if (setting.min !== undefined && n < setting.min) return bad(`must be >= ${setting.min}`);
      if (setting.max !== undefined && n > setting.max) return bad(`must be <= ${setting.max}`);
      return n;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      return bad('must be true or false');
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined) return bad('must be a duration like 90, 10s, 30m, 1h or 7d');
      if (setting.min !== undefined && ms < setting.min * 1000) return bad(`must be at least ${setting.min}s`);
      if (setting.max !== undefined && ms > setting.max * 1000) return bad(`must be at most ${setting.max}s`);
      return ms;
    }
    case 'enum':
      if (!setting.values?.includes(raw)) return bad(`must be one of ${setting.values?.join(', ')}`);
      return raw;
    case 'url':
      try {
        const u = new URL(raw);
        return u.toString();
      } catch {
        return bad('must be an absolute URL');
      }
    case 'rate':
      // the message predates the `rate` kind; tests and operators know it
      return (
        parseRate(raw) ??
        void problems.push(
          `${setting.env}=${JSON.stringify(raw.slice(0, 40))}: must be N/window with N >= 1, like 10/1h or 5/30m`,
        )
      );
    case 'list':
      return raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
  }
}

/**
 * Reads every setting from env (and the optional file): values keyed by env name, and the family
 * members. An empty value counts as unset, so a setting with a default always has a value.
 */
export function readSettings(env: Raw = process.env): { settings: Settings; families: FamilyValues } {
  const problems: string[] = [];
  let file: Raw = {};
  const fileName = env.LATCHKEY_CONFIG_FILE;
  if (fileName) {
    try {
      const parsed = JSON.parse(readFileSync(fileName, 'utf8')) as Record<string, unknown>;
      file = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v == null ? undefined : String(v)]));
    } catch (e) {
      problems.push(`LATCHKEY_CONFIG_FILE=${fileName}: cannot read JSON (${(e as Error).message})`);
    }
  }
  const known = new Set<string>();
  const out: Record<string, unknown> = {};
  for (const setting of SETTINGS as readonly Setting[]) {
    known.add(setting.env);
    const given = env[setting.env] ?? file[setting.env];
    const raw = given === undefined || given === '' ? setting.default : given;
    out[setting.env] = raw === undefined || raw === '' ? undefined : parseOne(setting, raw, problems);
  }
  for (const k of Object.keys(env)) {
    if (k.startsWith('LATCHKEY_') && !known.has(k) && !FAMILIES.some((f) => k.startsWith(f.prefix)))
      problems.push(`${k}: unknown setting (see the configuration table in the README)`);
  }
  const families = readFamilies([...Object.entries(file), ...Object.entries(env)], problems);
  if (problems.length) throw new ConfigError(problems);
  return { settings: out as Settings, families };
}

/** Groups `PREFIX<NAME>_<PART>` members (later entries win: file, then environment), defaults filled in. */
function readFamilies(entries: [string, string | undefined][], problems: string[]): FamilyValues {
  const out: FamilyValues = {};
  for (const f of FAMILIES) {
    const parts: readonly { part: string; default?: string }[] = f.parts;
    const member = new RegExp(`^${f.prefix}([A-Z0-9]+(?:_[A-Z0-9]+)*?)_(${parts.map((p) => p.part).join('|')})$`);
    const byName = new Map<string, Record<string, string>>();
    for (const [k, v] of entries) {
      if (!k.startsWith(f.prefix) || !v) continue;
      const m = member.exec(k);
      if (!m) {
        problems.push(`${k}: unknown setting; ${f.what} use ${f.prefix}<NAME>_${parts.map((p) => p.part).join(', _')}`);
        continue;
      }
      byName.set(m[1], { ...byName.get(m[1]), [m[2]]: v });
    }
    for (const values of byName.values())
      for (const p of parts) if (p.default !== undefined) values[p.part] ??= p.default;
    out[f.prefix] = byName;
  }
  return out;
}
