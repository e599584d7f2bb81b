// Passkeys in the browser, driving @simplewebauthn/browser (served next to this file). Progressive
// enhancement only: without JavaScript every other part of the page works, and the passkey parts
// say they need it.
(() => {
  const W = window.SimpleWebAuthnBrowser;
  // Words of the page, through app.js (loaded first on every page).
  const text = (key) => window.latchkeyText?.(key) ?? key;
  // Shown by the server for browsers without JavaScript; this script is the JavaScript.
  for (const el of document.querySelectorAll('[data-passkey-nojs]')) el.hidden = true;
  const statuses = document.querySelectorAll('[data-passkey-status]');
  const say = (el, text, bad) => {
    if (!el) return;
    el.textContent = text;
    el.className = bad ? 'hint bad' : 'hint';
  };
  if (!W?.browserSupportsWebAuthn()) {
    for (const el of statuses) say(el, text('passkey.client.unsupported'), false);
    return;
  }
  const post = async (url, body) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body ?? {}),
      credentials: 'same-origin',
    });
    let json;
    try {
      json = await res.json();
    } catch {}
    return { status: res.status, json };
  };
  const problem = (r) => r.json?.detail ?? r.json?.title ?? text('passkey.client.failed');
  const cancelled = (e) => e?.name === 'AbortError' || e?.cause?.name === 'AbortError';
  const message = (e) =>
    e?.name === 'NotAllowedError' || e?.cause?.name === 'NotAllowedError'
      ? text('passkey.client.not_allowed')
      : e?.name === 'InvalidStateError'
        ? text('passkey.client.already_here')
        : text('passkey.client.unusable');
  // Where the password form would have gone: its return_to (an app's sign-in, checked by the
  // server: this site or an allow-listed origin), else its next (a path on this service only).
  const next = () => {
    const form = document.querySelector('form[action$="/login"]');
    const back = form?.querySelector('input[name="return_to"]')?.value;
    if (back && (/^https?:\/\//.test(back) || (back.startsWith('/') && !back.startsWith('//')))) return back;
    const v = form?.querySelector('input[name="next"]')?.value;
    return v?.startsWith('/') && !v.startsWith('//') && !v.startsWith('/\\') ? v : '/settings';
  };
  const reauthenticate = () => {
    const f = document.createElement('form');
    f.method = 'post';
    f.action = '/settings/passkeys/reauthenticate';
    document.body.append(f);
    f.submit();
  };

  // Sign-in without a password: the button, and passkeys offered in the username autofill.
  const button = document.querySelector('[data-passkey-signin]');
  if (button) {
    const status = button.parentElement?.querySelector('[data-passkey-status]');
    const signIn = async (autofill) => {
      const o = await post('/api/v1/sessions/passkey/options');
      if (o.status !== 200) return say(status, problem(o), true);
      const response = await W.startAuthentication({ optionsJSON: o.json, useBrowserAutofill: autofill });
      say(status, text('passkey.client.checking'), false);
      const v = await post('/api/v1/sessions/passkey', { response });
      if (v.status === 201) return location.assign(next());
      say(status, problem(v), true);
    };
    button.hidden = false;
    button.addEventListener('click', () =>
      signIn(false).catch((e) => {
        if (!cancelled(e)) say(status, message(e), true);
      }),
    );
    if (document.querySelector('input[autocomplete~="webauthn"]'))
      W.browserSupportsWebAuthnAutofill()
        .then((ok) => (ok ? signIn(true) : undefined))
        .catch(() => {});
  }

  // A passkey as the second factor (/login/second-factor): the answer goes into the form, which
  // the server finishes like the typed codes.
  const step = document.querySelector('form[data-passkey-second-factor]');
  if (step) {
    const status = step.querySelector('[data-passkey-status]');
    const go = step.querySelector('[data-passkey-button]');
    if (go) go.hidden = false;
    step.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const optionsJSON = JSON.parse(step.dataset.options ?? '{}');
        const response = await W.startAuthentication({ optionsJSON });
        step.querySelector('[name="webauthn"]').value = JSON.stringify(response);
        say(status, text('passkey.client.checking'), false);
        step.submit();
      } catch (e) {
        if (!cancelled(e)) say(status, message(e), true);
      }
    });
  }

  // QR-08 on the phone: confirm a QR sign-in with a passkey instead of the password. The options
  // are bound to this request; the answer goes into the form, posted as "approve".
  const qr = document.querySelector('[data-passkey-qr]');
  const qrForm = qr?.closest('form');
  if (qr && qrForm) {
    const status = qr.querySelector('[data-passkey-status]');
    const go = qr.querySelector('[data-passkey-button]');
    go.hidden = false;
    go.addEventListener('click', async () => {
      if (!qrForm.querySelector('input[name="number"]:checked'))
        return say(status, text('passkey.client.pick_number'), true);
      const id = qrForm.querySelector('[name="id"]')?.value ?? '';
      const secret = qrForm.querySelector('[name="secret"]')?.value ?? '';
      try {
        const o = await post(`/api/v1/qr-logins/${encodeURIComponent(id)}/approve/passkey-options`, { secret });
        if (o.status !== 200) return say(status, problem(o), true);
        const response = await W.startAuthentication({ optionsJSON: o.json });
        qr.querySelector('[name="webauthn"]').value = JSON.stringify(response);
        const decision = document.createElement('input');
        decision.type = 'hidden';
        decision.name = 'decision';
        decision.value = 'approve';
        qrForm.append(decision);
        say(status, text('passkey.client.checking'), false);
        qrForm.submit();
      } catch (e) {
        if (!cancelled(e)) say(status, message(e), true);
      }
    });
  }

  // Recovering an account without a password by mail: a new passkey, with the link's token.
  const recover = document.querySelector('form[data-passkey-recover]');
  if (recover) {
    const status = recover.querySelector('[data-passkey-status]');
    recover.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const token = recover.querySelector('[name="token"]')?.value ?? '';
      const name = recover.querySelector('[name="passkeyName"]')?.value.trim() || undefined;
      try {
        const o = await post('/api/v1/password-resets/passkey/options', { token });
        if (o.status !== 200) return say(status, problem(o), true);
        say(status, text('passkey.client.follow_prompt'), false);
        const response = await W.startRegistration({ optionsJSON: o.json });
        const v = await post('/api/v1/password-resets/passkey', { token, name, response });
        if (v.status === 200) return location.assign('/login?msg=passkey_recovered');
        say(status, problem(v), true);
      } catch (e) {
        if (!cancelled(e)) say(status, message(e), true);
      }
    });
  }

  // Adding a passkey in /settings.
  const add = document.querySelector('form[data-passkey-add]');
  if (add) {
    const status = add.querySelector('[data-passkey-status]');
    add.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const name = add.querySelector('[name="passkeyName"]')?.value.trim() || undefined;
      try {
        const o = await post('/api/v1/account/factors/passkeys/options');
        if (o.status === 401 && o.json?.code === 'reauthentication_required') return reauthenticate();
        if (o.status !== 200) return say(status, problem(o), true);
        say(status, text('passkey.client.follow_prompt'), false);
        const response = await W.startRegistration({ optionsJSON: o.json });
        const v = await post('/api/v1/account/factors/passkeys', { name, response });
        if (v.status === 201) return location.assign('/settings?done=passkey_added');
        if (v.status === 401 && v.json?.code === 'reauthentication_required') return reauthenticate();
        say(status, problem(v), true);
      } catch (e) {
        if (!cancelled(e)) say(status, message(e), true);
      }
    });
  }
})();
