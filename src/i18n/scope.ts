import { AsyncLocalStorage } from 'node:async_hooks';
import { SHIPPED_LOCALES } from './locales.ts';

// The language of the work in progress. A request opens a scope (src/web/locale.ts) that every
// page, error and mail it renders reads, so no page needs the request threaded through to it;
// a mail to someone else (a staff action, the outbox worker) opens its own scope with the
// recipient's language. Outside any scope: the install's default.

export interface LocaleScope {
  locale: string;
  /** the request's path and query, for a form that comes back to the same page (the language picker) */
  path?: string;
}

const storage = new AsyncLocalStorage<LocaleScope>();

let installDefault = 'en';
let offered: readonly string[] = SHIPPED_LOCALES;

/** LATCHKEY_LOCALES / LATCHKEY_DEFAULT_LOCALE, set once at start. */
export function configureLocales(locales: readonly string[], fallback: string): void {
  offered = locales;
  installDefault = fallback;
}

export function offeredLocales(): readonly string[] {
  return offered;
}

export function defaultLocale(): string {
  return installDefault;
}

export function currentLocale(): string {
  return storage.getStore()?.locale ?? installDefault;
}

/** Runs `fn` in `locale` (when it is offered; else the install's default). */
export function withLocale<T>(locale: string | null | undefined, fn: () => T): T {
  return storage.run({ locale: locale && offered.includes(locale) ? locale : installDefault }, fn);
}

/** Enters an existing scope for `fn` (a request's, re-entered after its body was read). */
export function inScope<T>(scope: LocaleScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The scope in force, so a request can change its language once it knows who is asking. */
export function currentScope(): LocaleScope | undefined {
  return storage.getStore();
}
