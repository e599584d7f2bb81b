import Html from '@kitajs/html';
import { pageBrand } from '../flows/brand/page-brand.ts';
import {
  clientTextJson,
  currentLocale,
  isRtl,
  LANGUAGE_NAMES,
  type Locale,
  offeredLocales,
  t,
  th,
} from '../i18n/index.ts';
import { currentScope } from '../i18n/scope.ts';

// Shared page furniture. Every text that can carry user input goes through `safe` (children)
// or an attribute (escaped by @kitajs/html); `npm test` runs xss-scan to keep it that way.

export interface PageOptions {
  title: string;
  productName: string;
  signedIn?: { username: string } | null;
  /** an org slug when the page is shown in an organization's context */
  orgPrefix?: string;
  children?: JSX.Element | JSX.Element[] | string;
  wide?: boolean;
}

export function Page(o: PageOptions): string {
  const prefix = o.orgPrefix ?? '';
  const locale = currentLocale();
  // the organization's favicon and support link, else the install's (src/flows/brand)
  const brand = pageBrand(prefix);
  return (
    '<!doctype html>' +
    (
      <html lang={locale} dir={isRtl(locale) ? 'rtl' : 'ltr'}>
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="referrer" content="no-referrer" />
          <meta name="color-scheme" content="light dark" />
          <title safe>{`${o.title} · ${o.productName}`}</title>
          <link rel="icon" href={brand.favicon.href} type={brand.favicon.type} />
          <link rel="stylesheet" href="/static/app.css" />
          {/* the install's or the organization's colours and logo (src/flows/brand) */}
          <link rel="stylesheet" href={`${prefix}/brand/theme.css`} />
          <script src="/static/app.js" defer></script>
        </head>
        <body>
          <a class="skip" href="#main">
            {th('web.skip_to_content')}
          </a>
          <header class="top">
            <a class="brand" href={`${prefix}/login`} safe>
              {o.productName}
            </a>
            <nav aria-label={t('web.nav_account')}>
              <a href={brand.help}>{th('brand.help')}</a>
              {o.signedIn ? (
                <>
                  <a href="/settings">{th('web.settings')}</a>
                  <form method="post" action="/logout" class="inline">
                    <button type="submit" class="link">
                      {th('web.sign_out')}
                    </button>
                  </form>
                </>
              ) : (
                <a href={`${prefix}/login`}>{th('web.sign_in')}</a>
              )}
            </nav>
          </header>
          <main id="main" tabindex="-1" class={o.wide ? 'wide' : ''}>
            <h1 safe>{o.title}</h1>
            {o.children as 'safe'}
          </main>
          <footer class="foot">
            <LanguagePicker />
          </footer>
          {/* the words of app.js and other scripts, in the page's language (not executed: no CSP change) */}
          <script type="application/json" id="latchkey-text">
            {clientTextJson() as 'safe'}
          </script>
        </body>
      </html>
    )
  );
}

/**
 * The language picker at the foot of every page: a plain form (no JavaScript needed) that posts
 * the choice and comes back to the same page. Each language is named in itself.
 */
export function LanguagePicker(): JSX.Element {
  const offered = offeredLocales();
  if (offered.length < 2) return '';
  const current = currentLocale();
  const path = currentScope()?.path;
  const back = path && path.length <= 512 && path.startsWith('/') && !path.startsWith('//') ? path : '/login';
  return (
    <form method="post" action="/language" class="language">
      <input type="hidden" name="back" value={back} />
      <label for="language-choice">{th('web.language')}</label>
      <select id="language-choice" name="language">
        {offered.map((l) => (
          <option value={l} lang={l} selected={l === current} safe>
            {LANGUAGE_NAMES[l as Locale] ?? l}
          </option>
        ))}
      </select>
      <button type="submit" class="secondary">
        {th('web.language_change')}
      </button>
    </form>
  );
}

/** A message box: role=alert for errors so screen readers announce them. */
export function Notice(p: { kind: 'error' | 'info' | 'success'; text?: string | null }): JSX.Element {
  if (!p.text) return '';
  return (
    <p class={`notice ${p.kind}`} role={p.kind === 'error' ? 'alert' : 'status'} safe>
      {p.text}
    </p>
  );
}

export interface FieldProps {
  name: string;
  label: string;
  type?: string;
  value?: string;
  autocomplete?: string;
  required?: boolean;
  hint?: string;
  inputmode?: string;
  autofocus?: boolean;
  policy?: boolean;
  maxlength?: number;
}

export function Field(p: FieldProps): JSX.Element {
  const id = `f-${p.name}`;
  return (
    <div class="field">
      <label for={id} safe>
        {p.label}
      </label>
      <input
        id={id}
        name={p.name}
        type={p.type ?? 'text'}
        value={p.type === 'password' ? undefined : p.value}
        autocomplete={p.autocomplete}
        required={p.required ?? true}
        inputmode={p.inputmode}
        autofocus={p.autofocus}
        maxlength={p.maxlength}
        data-policy={p.policy ? 'password' : undefined}
        aria-describedby={p.hint || p.policy ? `${id}-hint` : undefined}
      />
      {p.hint || p.policy ? (
        <p class="hint" id={`${id}-hint`} aria-live="polite" safe>
          {p.hint ?? ''}
        </p>
      ) : (
        ''
      )}
    </div>
  );
}

export { Html };
