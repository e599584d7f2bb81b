import { Html } from '../../web/layout.tsx';

void Html;

/**
 * The recovery codes, shown once (MFA-05): a list to copy, and a .txt download that works
 * without JavaScript (a data: link carrying the codes themselves, never fetched again).
 */
export function RecoveryCodesList(p: { codes: readonly string[]; productName: string }): JSX.Element {
  const text = [
    `${p.productName} recovery codes`,
    'Each code works once, when you cannot use your authenticator app or passkey.',
    '',
    ...p.codes,
    '',
  ].join('\n');
  return (
    <div class="recovery-codes">
      <p>
        Save these codes somewhere safe, such as a password manager. Each one signs you in once if you lose your
        authenticator app or passkey. <strong>They are shown only this once.</strong>
      </p>
      <ul class="codes" aria-label="Recovery codes">
        {p.codes.map((c) => (
          <li>
            <code safe>{c}</code>
          </li>
        ))}
      </ul>
      <p class="links">
        <a href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`} download="recovery-codes.txt">
          Download as .txt
        </a>
        <button type="button" class="link" data-copy={p.codes.join('\n')} hidden>
          Copy codes
        </button>
      </p>
    </div>
  );
}
