import type { Kysely } from 'kysely';
import { AppError } from '../../errors.ts';
import { matchLocale } from '../../i18n/locales.ts';
import { offeredLocales } from '../../i18n/scope.ts';
import { t } from '../../i18n/translate.ts';
import type { Database } from '../../store/schema.ts';

// The language an account chose (issue 17): kept on the account so its pages and its mails
// speak it on every browser; null goes back to following the browser.

/** What the forms send for "Same as my browser": no saved language, Accept-Language decides again. */
export const FOLLOW_BROWSER = 'auto';

/** A form's choice: null for FOLLOW_BROWSER, else the offered tag it names (or a 400). */
export function languageChoice(raw: unknown): string | null {
  return raw === FOLLOW_BROWSER ? null : offeredLanguage(raw);
}

/** The offered tag `raw` names (any case), or a 400 naming the languages there are. */
export function offeredLanguage(raw: unknown): string {
  const found = typeof raw === 'string' && raw.length <= 35 ? matchLocale(raw, offeredLocales()) : undefined;
  if (!found || found.toLowerCase() !== String(raw).trim().toLowerCase())
    throw new AppError('validation_failed', t('language.unknown', { offered: offeredLocales().join(', ') }), {
      fields: [{ field: 'language', message: t('language.unknown', { offered: offeredLocales().join(', ') }) }],
    });
  return found;
}

export async function saveAccountLanguage(
  db: Kysely<Database>,
  accountId: string,
  locale: string | null,
  now: number,
): Promise<void> {
  await db.updateTable('accounts').set({ locale, updated_at: now }).where('id', '=', accountId).execute();
}
