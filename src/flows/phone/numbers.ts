import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';

/**
 * The example every hint, error and API description shows. It must pass parseMobile (a test
 * checks): the UK's fictional +44 7700 900xxx range is refused by libphonenumber.
 */
export const PHONE_EXAMPLE = '+44 7911 123456';
export const PHONE_EXAMPLE_E164 = '+447911123456';

/** Mobile numbers are typed in international form and stored as E.164. */
export function parseMobile(input: string, allowedCallingCodes: readonly string[] = []): string {
  const typed = input.trim();
  const bad = (message: string) =>
    new AppError('validation_failed', undefined, { fields: [{ field: 'phone', code: 'invalid', message }] });
  if (!typed || typed.length > 40) throw bad(t('phone.enter_with_country_code', { example: PHONE_EXAMPLE }));
  const n = parsePhoneNumberFromString(typed.startsWith('00') ? `+${typed.slice(2)}` : typed);
  if (!n?.isValid()) throw bad(t('phone.not_valid', { example: PHONE_EXAMPLE }));
  if (n.ext) throw bad(t('phone.no_extension'));
  const type = n.getType();
  if (type !== undefined && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') throw bad(t('phone.not_mobile'));
  // OTP-05: an operator can keep SMS (and their cost) to the countries it serves.
  if (allowedCallingCodes.length && !allowedCallingCodes.includes(n.countryCallingCode))
    throw bad(t('phone.country_refused'));
  return n.number;
}

/** "+44 •••• ••0123": enough for the owner to recognise, too little to read off a screen. */
export function maskPhone(e164: string): string {
  return `${e164.slice(0, 3)} •••• ••${e164.slice(-4)}`;
}
