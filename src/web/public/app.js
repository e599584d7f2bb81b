// Progressive enhancement only: every page works without this file.
(() => {
  const debounce = (fn, ms) => {
    let t;
    return (...a) => {
      clearTimeout(t);
      t = setTimeout(() => fn(...a), ms);
    };
  };
  // Live password policy feedback, from the same policy the server enforces.
  for (const input of document.querySelectorAll('input[data-policy="password"]')) {
    const hint = document.getElementById(`${input.id}-hint`);
    if (!hint) continue;
    const form = input.form;
    const val = (name) => form?.querySelector(`[name="${name}"]`)?.value ?? '';
    const check = debounce(async () => {
      if (!input.value) {
        hint.textContent = '';
        hint.className = 'hint';
        return;
      }
      try {
        const res = await fetch('/api/v1/password-checks', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ password: input.value, username: val('username'), email: val('email') }),
        });
        if (!res.ok) return;
        const body = await res.json();
        hint.textContent = body.ok ? 'Strong enough.' : body.reasons.map((r) => r.message).join(' ');
        hint.className = body.ok ? 'hint good' : 'hint bad';
      } catch {}
    }, 300);
    input.addEventListener('input', check);
  }
  // Confirmation fields say at once when they do not match.
  for (const confirm of document.querySelectorAll('input[name$="Confirm"]')) {
    const original = confirm.form?.querySelector(`[name="${confirm.name.replace(/Confirm$/, '')}"]`);
    if (!original) continue;
    const sync = () =>
      confirm.setCustomValidity(confirm.value && confirm.value !== original.value ? 'The passwords do not match.' : '');
    confirm.addEventListener('input', sync);
    original.addEventListener('input', sync);
  }
  // Recovery codes: a copy button where the clipboard is available (the list and the .txt link work without it).
  for (const button of document.querySelectorAll('button[data-copy]')) {
    if (!navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy ?? '');
        button.textContent = 'Copied';
      } catch {
        button.textContent = 'Copy failed: select the codes instead';
      }
    });
  }
})();
