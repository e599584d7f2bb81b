// Progressive enhancement: every page works without this file (the CAPTCHA, when one is
// configured, is the exception, and its own page says so and offers a way without JavaScript).
(() => {
  // Words come from the page (a JSON block the server fills in the page's language). The other
  // scripts (qr.js, brand-admin.js, passkey.client.js) run after this one (all are deferred, this
  // one first) and read them through window.latchkeyText.
  let strings;
  const text = (key) => {
    if (!strings) {
      try {
        strings = JSON.parse(document.getElementById('latchkey-text')?.textContent || '{}');
      } catch {
        strings = {};
      }
    }
    return strings[key] ?? key;
  };
  window.latchkeyText = text;
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
        hint.textContent = body.ok ? text('web.client.strong_enough') : body.reasons.map((r) => r.message).join(' ');
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
      confirm.setCustomValidity(
        confirm.value && confirm.value !== original.value ? text('web.client.passwords_differ') : '',
      );
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
        button.textContent = text('web.client.copied');
      } catch {
        button.textContent = text('web.client.copy_failed');
      }
    });
  }
  // Show-password toggle: a real button next to each password field, announcing its state.
  for (const input of document.querySelectorAll('input[type="password"]')) {
    const wrap = document.createElement('div');
    wrap.className = 'password-wrap';
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'show-password';
    btn.setAttribute('aria-pressed', 'false');
    btn.setAttribute('aria-controls', input.id);
    // "Show" on screen; "Show new password" etc. for a screen reader, from the field's own label.
    const word = document.createElement('span');
    word.textContent = text('web.client.show');
    const which = document.createElement('span');
    which.className = 'visually-hidden';
    which.textContent = ` ${(document.querySelector(`label[for="${input.id}"]`)?.textContent ?? text('web.client.password')).toLocaleLowerCase()}`;
    btn.append(word, which);
    btn.addEventListener('click', () => {
      const show = input.type === 'password';
      input.type = show ? 'text' : 'password';
      word.textContent = show ? text('web.client.hide') : text('web.client.show');
      btn.setAttribute('aria-pressed', String(show));
      input.focus();
    });
    wrap.appendChild(btn);
    // Never submit the password as visible text (autofill, history): hide it again on submit.
    input.form?.addEventListener('submit', () => {
      input.type = 'password';
    });
  }
  // Busy state: the pressed button says the request is on its way and cannot be sent twice.
  for (const form of document.querySelectorAll('form[method="post"]')) {
    form.addEventListener('submit', (e) => {
      if (form.dataset.busy) {
        e.preventDefault();
        return;
      }
      const btn = e.submitter ?? form.querySelector('button[type="submit"]');
      // After the other handlers (a CAPTCHA widget may hold the submit until it is solved).
      setTimeout(() => {
        if (e.defaultPrevented || !btn) return;
        form.dataset.busy = '1';
        btn.setAttribute('aria-busy', 'true');
      }, 0);
    });
  }
  // Back/forward cache can restore a page mid-submit: make its buttons usable again.
  window.addEventListener('pageshow', () => {
    for (const form of document.querySelectorAll('form[data-busy]')) delete form.dataset.busy;
    for (const btn of document.querySelectorAll('[aria-busy="true"]')) btn.removeAttribute('aria-busy');
  });
  // Times: the page shows UTC (works without JavaScript); here they turn into the reader's zone.
  const fmt = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
  });
  for (const t of document.querySelectorAll('time[data-local]')) {
    const d = new Date(t.getAttribute('datetime'));
    if (!Number.isNaN(d.getTime())) t.textContent = fmt.format(d);
  }
})();
