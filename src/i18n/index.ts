export { isRtl, LANGUAGE_NAMES, type Locale, matchLocale, negotiate, SHIPPED_LOCALES } from './locales.ts';
export { configureLocales, currentLocale, defaultLocale, offeredLocales, withLocale } from './scope.ts';
export { clientTextJson, formatDateTime, formatNumber, t, th } from './translate.ts';
