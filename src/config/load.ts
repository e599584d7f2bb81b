import { readFileSync } from 'node:fs';
import { SETTINGS, type Setting } from './schema.ts';

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
    case 'list':
      return raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
  }
}

/** Reads every setting from env (and the optional file), returning values keyed by env name. */
export function readSettings(env: Raw = process.env, extra: readonly Setting[] = []): Record<string, unknown> {
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
  for (const setting of [...SETTINGS, ...extra] as Setting[]) {
    known.add(setting.env);
    const raw = env[setting.env] ?? file[setting.env] ?? setting.default;
    out[setting.env] = raw === undefined || raw === '' ? undefined : parseOne(setting, raw, problems);
  }
  for (const k of Object.keys(env)) {
    if (k.startsWith('LATCHKEY_') && !known.has(k) && !isDynamicName(k))
      problems.push(`${k}: unknown setting (see the configuration table in the README)`);
  }
  // Family members are passed through raw (file first, environment wins); their owners validate them.
  for (const [k, v] of [...Object.entries(file), ...Object.entries(env)]) if (isDynamicName(k) && v) out[k] = v;
  if (problems.length) throw new ConfigError(problems);
  return out;
}

// Provider-specific settings are families (LATCHKEY_OIDC_<NAME>_…); their owners validate them.
const dynamicPrefixes: string[] = [];
export function registerDynamicPrefix(prefix: string): void {
  dynamicPrefixes.push(prefix);
}
function isDynamicName(name: string): boolean {
  return dynamicPrefixes.some((p) => name.startsWith(p));
}

// Generic OpenID Connect providers (src/methods/external/providers.ts).
registerDynamicPrefix('LATCHKEY_OIDC_');
