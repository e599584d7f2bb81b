// QR sign-in (src/flows/qr), progressive enhancement: without this file the new browser has its
// "I approved it — continue" button and the phone its typed-code form.
(() => {
  // Words of the page, through app.js (loaded first on every page).
  const word = (key) => window.latchkeyText?.(key) ?? key;
  const status = (el, text) => {
    if (el) el.textContent = text;
  };

  // The new browser, before a request exists: start one at once.
  const start = document.getElementById('qr-start');
  if (start?.dataset.auto === '1') start.requestSubmit();

  // The new browser, waiting: poll at the server's interval (RFC 8628), honour slow_down, rotate
  // the code while no phone has opened it, land signed in once approved.
  const wait = document.getElementById('qr-wait');
  if (wait) {
    const id = wait.dataset.id;
    const line = document.getElementById('qr-status');
    let interval = Number(wait.dataset.interval || '2') * 1000;
    let shown = !wait.querySelector('.qr-box');
    const poll = async () => {
      let body;
      try {
        const res = await fetch(`/api/v1/qr-logins/${encodeURIComponent(id)}`, {
          headers: { accept: 'application/json' },
        });
        if (res.status === 404) body = { status: 'expired' };
        else if (!res.ok) body = { status: 'retry' };
        else body = await res.json();
      } catch {
        body = { status: 'retry' };
      }
      if (body.interval) interval = body.interval * 1000;
      switch (body.status) {
        case 'approved':
          status(line, word('qr.client.approved'));
          // /login/qr sends a signed-in browser on: to the app that asked, else to /settings.
          location.assign('/login/qr');
          return;
        case 'second_factor_required':
          status(line, word('qr.client.second_factor'));
          location.assign('/login/second-factor');
          return;
        case 'declined':
          status(line, word('qr.client.declined'));
          document.getElementById('qr-rotate')?.removeAttribute('hidden');
          return;
        case 'expired':
          status(line, word('qr.client.expired'));
          document.getElementById('qr-rotate')?.removeAttribute('hidden');
          return;
        case 'shown':
          shown = true;
          status(line, word('qr.client.shown'));
          break;
        default:
          // The server says when (its clock, not this one): replace the code no phone has opened.
          if (!shown && body.rotate) {
            status(line, word('qr.client.fresh'));
            document.getElementById('qr-rotate')?.requestSubmit();
            return;
          }
      }
      setTimeout(poll, interval);
    };
    setTimeout(poll, interval);
  }

  // The phone: scan with the camera (BarcodeDetector where the browser has it, jsQR otherwise)
  // or decode a photo; only a link to this site's own /qr/ page is followed.
  const scanner = document.getElementById('qr-scanner');
  if (scanner) {
    scanner.hidden = false;
    const line = document.getElementById('qr-scan-status');
    const follow = (text) => {
      try {
        const url = new URL(text);
        if (url.origin === location.origin && /^\/qr\/[A-Za-z0-9_-]{43}$/.test(url.pathname)) {
          status(line, word('qr.client.found'));
          location.assign(url.pathname);
          return true;
        }
      } catch {}
      status(line, word('qr.client.not_ours'));
      return false;
    };
    const detector = 'BarcodeDetector' in window ? new window.BarcodeDetector({ formats: ['qr_code'] }) : undefined;
    const canvas = document.createElement('canvas');
    const decode = async (source, width, height) => {
      if (detector) {
        const found = await detector.detect(source);
        return found[0]?.rawValue;
      }
      if (!window.jsQR) return undefined;
      canvas.width = width;
      canvas.height = height;
      const g = canvas.getContext('2d', { willReadFrequently: true });
      g.drawImage(source, 0, 0, width, height);
      const img = g.getImageData(0, 0, width, height);
      return window.jsQR(img.data, width, height)?.data;
    };

    document.getElementById('qr-photo')?.addEventListener('change', async (e) => {
      const file = e.target.files?.[0];
      if (!file) return;
      status(line, word('qr.client.reading'));
      try {
        const bitmap = await createImageBitmap(file);
        const text = await decode(bitmap, bitmap.width, bitmap.height);
        if (text) follow(text);
        else status(line, word('qr.client.no_code'));
      } catch {
        status(line, word('qr.client.not_image'));
      }
    });

    const camera = document.getElementById('qr-camera');
    const video = document.getElementById('qr-video');
    camera?.addEventListener('click', async () => {
      if (!navigator.mediaDevices?.getUserMedia) {
        status(line, word('qr.client.no_camera_api'));
        return;
      }
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
      } catch {
        status(line, word('qr.client.no_camera'));
        return;
      }
      video.setAttribute('playsinline', '');
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      status(line, word('qr.client.point'));
      const tick = async () => {
        if (video.readyState >= 2) {
          const text = await decode(video, video.videoWidth, video.videoHeight).catch(() => undefined);
          if (text && follow(text)) {
            for (const t of stream.getTracks()) t.stop();
            return;
          }
        }
        setTimeout(tick, 250);
      };
      tick();
    });
  }
})();
