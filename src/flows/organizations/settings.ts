import type { Config } from '../../config/index.ts';
import { AppError, type FieldProblem } from '../../errors.ts';
import { t } from '../../i18n/translate.ts';
import { settingDefault } from '../../methods/registry.ts';
import type { RecoveryMethods, RecoverySettings } from '../recovery/method.ts';

// Per-organization recovery settings, stored as JSON in organizations.recovery_settings. Which
// methods exist, which numbers they read and the bounds of each (from docs/security.md) come from the
// registered recovery methods (`RecoveryMethod.settings`); nothing here names a method.

export type { RecoverySettings };

/** What an organization that never saved a value gets: the default methods and every setting's default. */
export function defaultRecoverySettings(methods: RecoveryMethods, config: Config): RecoverySettings {
  const out: Record<string, number | string[]> = {
    methods: methods
      .all()
      .filter((m) => m.byDefault)
      .map((m) => m.id),
  };
  for (const [k, b] of methods.settings()) out[k] = settingDefault(b, config);
  // Every registered method's settings are filled in, so the names they declare are all there.
  return out as RecoverySettings;
}

/** Reads stored JSON leniently: anything missing or out of bounds falls back to the default. */
export function parseStoredSettings(
  methods: RecoveryMethods,
  json: string | null | undefined,
  defaults: RecoverySettings,
): RecoverySettings {
  let raw: Record<string, unknown> = {};
  try {
    const v = JSON.parse(json ?? '{}');
    if (v && typeof v === 'object') raw = v;
  } catch {}
  const out: RecoverySettings = { ...defaults };
  if (Array.isArray(raw.methods)) {
    const m = methods.ids().filter((id) => (raw.methods as unknown[]).includes(id));
    if (m.length) out.methods = m;
  }
  for (const [k, b] of methods.settings()) {
    const v = raw[k];
    if (typeof v === 'number' && Number.isInteger(v) && v >= b.min && v <= b.max) out[k] = v;
  }
  return out;
}

/**
 * Validates a full or partial update strictly (unlike stored JSON): a bad value is a 400 naming
 * the field, and nothing is saved. Missing fields keep their current value.
 */
export function validateSettings(
  methods: RecoveryMethods,
  current: RecoverySettings,
  input: unknown,
): RecoverySettings {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    throw new AppError('validation_failed', t('organizations.send_object'));
  const i = input as Record<string, unknown>;
  const ids = methods.ids();
  const bounds = methods.settings();
  const fields: FieldProblem[] = [];
  const next: RecoverySettings = { ...current };
  if (i.methods !== undefined) {
    if (!Array.isArray(i.methods) || i.methods.some((m) => typeof m !== 'string' || !ids.includes(m)))
      fields.push({
        field: 'methods',
        code: 'invalid',
        message: t('organizations.methods_among', { ids: ids.join(', ') }),
      });
    else if (i.methods.length === 0)
      fields.push({ field: 'methods', code: 'required', message: t('organizations.need_method') });
    else next.methods = ids.filter((id) => (i.methods as string[]).includes(id));
  }
  for (const [k, b] of bounds) {
    const v = i[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < b.min || v > b.max)
      fields.push({
        field: k,
        code: 'out_of_range',
        message: t('organizations.out_of_range', { label: b.label, min: b.min, max: b.max }),
      });
    else next[k] = v;
  }
  const unknown = Object.keys(i).filter((k) => k !== 'methods' && !bounds.some(([name]) => name === k));
  for (const k of unknown)
    fields.push({ field: k.slice(0, 64), code: 'unknown', message: t('organizations.unknown_setting') });
  if (fields.length) throw new AppError('validation_failed', undefined, { fields });
  return next;
}
