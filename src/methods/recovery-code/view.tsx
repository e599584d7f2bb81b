import { t, th } from '../../i18n/index.ts';
import { Html } from '../../web/layout.tsx';

void Html;

/**
 * The recovery codes, shown once (MFA-05): a list to copy, and a .txt download that works
 * without JavaScript (a data: link carrying the codes themselves, never fetched again).
 */
export function RecoveryCodesList(p: { codes: readonly string[]; productName: string }): JSX.Element {
  const text = [
    t('recovery-code.file_title', { product: p.productName }),
    t('recovery-code.file_hint'),
    '',
    ...p.codes,
    '',
  ].join('\n');
  return (
    <div class="recovery-codes">
      <p>{th('recovery-code.save_hint', { strong: (s) => `<strong>${s}</strong>` })}</p>
      <ul class="codes" aria-label={t('recovery-code.list_label')}>
        {p.codes.map((c) => (
          <li>
            <code safe>{c}</code>
          </li>
        ))}
      </ul>
      <p class="links">
        <a href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`} download="recovery-codes.txt">
          {th('recovery-code.download')}
        </a>
        <button type="button" class="link" data-copy={p.codes.join('\n')} hidden>
          {th('recovery-code.copy')}
        </button>
      </p>
    </div>
  );
}
