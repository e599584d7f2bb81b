// The logo upload on /admin/organization/brand: reads the chosen file and sends it as base64 JSON
// to the API (PUT /api/v1/organizations/{slug}/logo), which checks its type, bytes and size.
// Without JavaScript the form does nothing; the page says to use the API instead.
(() => {
  // Words of the page, through app.js (loaded first on every page).
  const text = (key) => window.latchkeyText?.(key) ?? key;
  for (const form of document.querySelectorAll('form[data-logo-upload]')) {
    const error = form.querySelector('[data-logo-error]');
    const fail = (message) => {
      error.textContent = message;
      error.hidden = false;
    };
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const file = form.querySelector('input[type=file]').files[0];
      if (!file) return fail(text('brand.client.choose_image'));
      const bytes = new Uint8Array(await file.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      const res = await fetch(form.dataset.logoUpload, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ contentType: file.type, data: btoa(binary) }),
      });
      if (res.ok) {
        location.assign(form.dataset.done);
        return;
      }
      const problem = await res.json().catch(() => ({}));
      if (problem.code === 'reauthentication_required') {
        location.assign(`/login?msg=reauthenticate&next=${encodeURIComponent(location.pathname + location.search)}`);
        return;
      }
      fail(problem.errors?.[0]?.message ?? problem.detail ?? problem.title ?? text('brand.client.upload_failed'));
    });
  }
})();
