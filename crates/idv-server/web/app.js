// idv hosted capture page: a browser implementation of the device protocol client (docs/device-protocol.md).
// The server has already run `start`; this page runs the capture rounds, then hands back a result code.
'use strict';

(() => {
  // ------------------------------------------------------------------------------------------------
  // Config & strings
  // ------------------------------------------------------------------------------------------------

  /** Warm-up between the face video playing and the first captured frame: lets exposure settle. Tests rely on it. */
  const WARMUP_MS = 1000;
  /** Document auto-capture: analysis period, analysis width, checks in a row that must pass. */
  const DOC_CHECK_MS = 150;
  const DOC_ANALYSIS_WIDTH = 320;
  const DOC_PASSES_NEEDED = 3;
  /** After a retake the user first reads the reason; auto-capture re-arms only after this. */
  const DOC_REARM_MS = 1500;
  /** Variance of the Laplacian (luma 0-255, at analysis size) below which the picture counts as blurred. */
  const SHARPNESS_MIN = 60;
  /** Minimum mean edge strength along a border band, and its minimum ratio to the centre's edge strength. */
  const EDGE_MIN = 18;
  const EDGE_RATIO = 1.1;
  /** ID-1 card aspect (85.6 x 54 mm): the overlay frame's shape. */
  const CARD_ASPECT = 1.586;
  const FACE_MAX_SIDE = 1280;
  /** No new face frame for this long: the capture failed (the step is offered again). */
  const STALL_MS = 4000;
  const DOC_JPEG_QUALITY = 0.92;
  const FACE_JPEG_QUALITY = 0.9;
  /** Album files above this are re-encoded smaller, so the round stays under the server's body limit. */
  const ALBUM_MAX_BYTES = 8 * 1024 * 1024;
  const ALBUM_MAX_SIDE = 2560;
  const REQUEST_TIMEOUT_MS = 60000;
  const MAX_ATTEMPTS = 5;
  const REDIRECT_DELAY_MS = 1000;

  const $ = (id) => document.getElementById(id);
  const app = $('app');

  let cfg = null;
  try {
    cfg = JSON.parse($('idv-config').textContent);
  } catch (_) {
    cfg = null;
  }
  const strings = (cfg && cfg.strings) || {};

  /** The table's text for key, with {name} placeholders filled; the key itself if missing (never hard-coded text). */
  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(strings, key) ? String(strings[key]) : key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return s;
  }
  function has(key) {
    return Object.prototype.hasOwnProperty.call(strings, key);
  }

  function applyStrings() {
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
  }

  function parseHex(hex) {
    const m = /^#?([0-9a-f]{6})$/i.exec(hex || '');
    if (!m) return null;
    const n = parseInt(m[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  function luminance(rgb) {
    const c = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  // Merchant colours arrive validated; the button text colour is chosen for contrast against the primary.
  function applyStyle(style) {
    if (!style) return;
    const root = document.documentElement.style;
    const map = { primary: '--idv-primary', background: '--idv-background', text: '--idv-text' };
    for (const k of Object.keys(map)) {
      if (typeof style[k] === 'string' && parseHex(style[k])) root.setProperty(map[k], style[k]);
    }
    const p = parseHex(style.primary);
    if (p) {
      const l = luminance(p);
      // Contrast with white = 1.05 / (l + 0.05); with black = (l + 0.05) / 0.05: pick the larger.
      root.setProperty('--idv-on-primary', 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? '#ffffff' : '#000000');
    }
    const txt = parseHex(style.text);
    if (txt) root.setProperty('--idv-focus', style.text);
  }

  // ------------------------------------------------------------------------------------------------
  // Device API client (§2, §3, §8)
  // ------------------------------------------------------------------------------------------------

  const enc = new TextEncoder();

  function b64urlToBytes(s) {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function hex(buf) {
    const b = new Uint8Array(buf);
    let s = '';
    for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0');
    return s;
  }

  let macKey = null;
  async function getKey() {
    if (!macKey) {
      macKey = await crypto.subtle.importKey('raw', b64urlToBytes(cfg.cred), { name: 'HMAC', hash: 'SHA-256' }, false, [
        'sign',
      ]);
    }
    return macKey;
  }

  /** x-idv-signature over exactly the bytes that will be sent (the server hashes what it receives). */
  async function signRequest(path, session, bytes) {
    const bodyHash = hex(await crypto.subtle.digest('SHA-256', bytes));
    const input = 'IDV-DEVICE-V1\nPOST\n' + path + '\n' + session + '\n' + bodyHash;
    return hex(await crypto.subtle.sign('HMAC', await getKey(), enc.encode(input)));
  }

  /** A refusal or failure. resultCode set: final. retryable: transient (5xx, 429, RoundInProgress, network). */
  class ApiError extends Error {
    constructor(kind, status, code, resultCode, retryAfterS) {
      super(code || kind);
      this.kind = kind;
      this.status = status;
      this.code = code || '';
      this.resultCode = resultCode == null ? null : resultCode;
      this.retryAfterS = retryAfterS;
    }
  }

  /** Encodes the body once; the same bytes (and signature) are reused for every resend of this request. */
  async function prepare(endpoint, body) {
    const url = cfg.api.replace(/\/+$/, '') + '/' + endpoint;
    const bytes = enc.encode(JSON.stringify(body));
    const path = new URL(url, location.href).pathname;
    const sig = await signRequest(path, cfg.session, bytes);
    return { endpoint, url, bytes, sig };
  }

  async function sendOnce(req) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), REQUEST_TIMEOUT_MS);
    let res;
    try {
      res = await fetch(req.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-idv-config': cfg.config,
          'x-idv-session': cfg.session,
          'x-idv-signature': req.sig,
        },
        body: req.bytes,
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
        signal: ctl.signal,
      });
    } catch (_) {
      throw new ApiError('network', 0, '', null, null);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (res.ok) {
      if (!data || typeof data !== 'object') throw new ApiError('unreadable', res.status, '', null, null);
      return data;
    }
    const code = data && typeof data.code === 'string' ? data.code : '';
    const rc = data && Number.isInteger(data.result_code) ? data.result_code : null;
    const ra = parseInt(res.headers.get('retry-after') || '', 10);
    throw new ApiError('http', res.status, code, rc, Number.isFinite(ra) ? ra : null);
  }

  // Only refusals that say "come back shortly" are retried by themselves; anything else goes to the user, whose
  // "Try again" resends the same bytes (the server's exact-resend rule makes that safe).
  function autoRetryable(e) {
    return e.kind === 'http' && e.resultCode == null && (e.status === 429 || e.code === 'RoundInProgress');
  }

  async function send(req) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await sendOnce(req);
      } catch (e) {
        if (!(e instanceof ApiError) || !autoRetryable(e) || attempt >= MAX_ATTEMPTS) throw e;
        const backoff = Math.min(5000, 200 * Math.pow(2, attempt - 1));
        const wait = e.retryAfterS != null ? Math.min(5000, e.retryAfterS * 1000) : backoff / 2 + Math.random() * (backoff / 2);
        await sleep(wait);
        if (state.ended) throw e;
      }
    }
  }

  function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
  }

  // ------------------------------------------------------------------------------------------------
  // Screens
  // ------------------------------------------------------------------------------------------------

  const state = {
    next: null, // the latest Instruction
    ended: false,
    cancelling: false,
    userCancelled: false,
    gen: 0, // bumped whenever the current capture is abandoned, so stale async work stops
    stream: null,
    pending: null, // the prepared round request, for "Try again"
  };

  const SCREEN_PARTS = [
    'steps-list', 'tips', 'doc-stage', 'face-stage', 'prompt', 'start', 'capture', 'album-wrap', 'face-start',
    'retry', 'spinner',
  ];

  /**
   * Switches the screen: data-screen names it (tests drive the page by it), only the listed parts are shown,
   * and the heading takes the focus so screen readers announce the change.
   */
  function show(screen, opts) {
    const o = opts || {};
    app.dataset.screen = screen;
    const visible = new Set(o.parts || []);
    for (const id of SCREEN_PARTS) {
      const el = $(id);
      if (el) el.hidden = !visible.has(id);
    }
    $('heading').textContent = o.title || '';
    $('instructions').textContent = o.text || '';
    $('message').textContent = o.message || '';
    $('status').textContent = o.status || '';
    $('cancel').hidden = !!o.noCancel || state.ended;
    $('progress').textContent = o.progress === false ? '' : progressText();
    if (screen !== 'face') $('flash').hidden = true;
    if (!visible.has('prompt')) setPrompt('', false);
    $('heading').focus({ preventScroll: false });
  }

  function progressText() {
    if (!state.next || !Array.isArray(cfg.steps)) return '';
    const k = cfg.steps.indexOf(state.next.step);
    if (k < 0) return '';
    return t('progress', { k: k + 1, n: cfg.steps.length });
  }

  function albumAllowed() {
    return cfg.show_album_icon === true && isDocStep(state.next && state.next.step);
  }
  function isDocStep(step) {
    return step === 'DOC_FRONT' || step === 'DOC_BACK';
  }

  function reasonText(code, serverReason) {
    if (code && has('reason.' + code)) return t('reason.' + code);
    return serverReason || t('error.generic');
  }

  function retakeMessage(answer) {
    let m = reasonText(answer.reason_code, answer.reason);
    const left = answer.next && answer.next.attempts_left;
    if (Number.isInteger(left) && has('attempts_left')) m += ' ' + t('attempts_left', { n: left });
    return m;
  }

  let retryAction = null;
  function showError(screen, titleKey, textKey, onRetry, extra) {
    stopStream();
    retryAction = onRetry;
    const parts = ['retry'];
    let text = t(textKey);
    if (extra && extra.album && albumAllowed()) {
      parts.push('album-wrap');
      text += ' ' + t('camera_denied.album');
    }
    show(screen, { title: t(titleKey), text, parts });
  }

  function showIntro() {
    const list = $('steps-list');
    list.textContent = '';
    for (const s of cfg.steps || []) {
      const li = document.createElement('li');
      li.textContent = t('steps.' + s);
      list.appendChild(li);
    }
    show('intro', { title: t('intro.title'), text: t('intro.text'), parts: ['steps-list', 'start'] });
  }

  function showUploading() {
    show('uploading', { title: t('uploading.title'), text: t('uploading.text'), parts: ['spinner'] });
  }

  /** Dispatches on the latest instruction's step. */
  function runInstruction(message) {
    const step = state.next && state.next.step;
    if (isDocStep(step)) startDoc(message);
    else if (step === 'FACE') showFaceReady(message);
    else showError('error', 'error.title', 'error.text', null);
  }

  /** Sends the round (already prepared) and acts on the answer; "Try again" comes back here with the same bytes. */
  async function deliver(kindOfStep) {
    const req = state.pending;
    const gen = state.gen;
    showUploading();
    let answer;
    try {
      answer = await send(req);
    } catch (e) {
      if (state.ended || gen !== state.gen) return;
      if (e.resultCode != null) return end(e.resultCode);
      if (e.status === 413) {
        // The body was refused before it was read, so the instruction is still the latest: capture again smaller.
        state.pending = null;
        return runInstruction(reasonText('TOO_LARGE'));
      }
      return showError('error', 'error.title', e.kind === 'network' ? 'error.network' : 'error.text', () => deliver(kindOfStep));
    }
    if (state.ended || gen !== state.gen) return;
    state.pending = null;
    handleAnswer(answer, kindOfStep);
  }

  function handleAnswer(a, kindOfStep) {
    if (a.outcome === 'done' && Number.isInteger(a.result_code)) return end(a.result_code);
    if ((a.outcome === 'retake' || a.outcome === 'next') && a.next && typeof a.next === 'object') {
      const prevStep = state.next && state.next.step;
      state.next = a.next;
      if (a.outcome === 'retake') return runInstruction(retakeMessage(a));
      if (prevStep !== a.next.step) stopStream();
      return runInstruction('');
    }
    // An answer that could not be read (§7: 1005).
    end(1005);
  }

  async function submitRound(frames, capture, kindOfStep) {
    const n = state.next;
    const body = { round: n.round, nonce: n.nonce, step: n.step, frames, capture };
    state.pending = await prepare('round', body);
    await deliver(kindOfStep);
  }

  // ------------------------------------------------------------------------------------------------
  // Camera helpers
  // ------------------------------------------------------------------------------------------------

  function stopStream() {
    if (state.stream) {
      for (const tr of state.stream.getTracks()) tr.stop();
      state.stream = null;
    }
    for (const id of ['doc-video', 'face-video']) {
      const v = $(id);
      if (v.srcObject) v.srcObject = null;
    }
  }

  async function openCamera(constraints, video) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const e = new Error('no mediaDevices');
      e.name = 'NotFoundError';
      throw e;
    }
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    state.stream = stream;
    video.srcObject = stream;
    video.muted = true;
    video.setAttribute('playsinline', '');
    await new Promise((resolve) => {
      if (video.readyState >= 2 && video.videoWidth > 0) return resolve();
      const done = () => {
        video.removeEventListener('loadeddata', done);
        video.removeEventListener('playing', done);
        resolve();
      };
      video.addEventListener('loadeddata', done);
      video.addEventListener('playing', done);
    });
    try {
      await video.play();
    } catch (_) {
      /* autoplay of a muted inline video is allowed; a refusal here still leaves frames to draw */
    }
    return stream;
  }

  function cameraError(err, onRetry, forDoc) {
    const name = (err && err.name) || '';
    if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
      return showError('camera-denied', 'camera_denied.title', 'camera_denied.text', onRetry, { album: forDoc });
    }
    if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') {
      return showError('no-camera', 'no_camera.title', 'no_camera.text', onRetry, { album: forDoc });
    }
    if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
      return showError('camera-busy', 'camera_busy.title', 'camera_busy.text', onRetry, { album: forDoc });
    }
    return showError('error', 'error.title', 'error.text', onRetry);
  }

  function blobToBase64(blob) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => {
        const s = String(r.result);
        resolve(s.slice(s.indexOf(',') + 1));
      };
      r.onerror = () => reject(r.error);
      r.readAsDataURL(blob);
    });
  }

  function canvasToBlob(canvas, quality) {
    return new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('encode'))), 'image/jpeg', quality)
    );
  }

  // ------------------------------------------------------------------------------------------------
  // Document capture
  // ------------------------------------------------------------------------------------------------

  const doc = { timer: 0, passes: 0, capturing: false, armedAt: 0, canvas: null };

  /** The card frame as fractions of the video frame: centred, ID-1 shaped, as large as fits comfortably. */
  function cardRect(vw, vh) {
    let w = 0.84 * vw;
    let h = w / CARD_ASPECT;
    if (h > 0.8 * vh) {
      h = 0.8 * vh;
      w = h * CARD_ASPECT;
    }
    return { x: (vw - w) / 2 / vw, y: (vh - h) / 2 / vh, w: w / vw, h: h / vh };
  }

  function layoutDocStage(video) {
    const vw = video.videoWidth || 4;
    const vh = video.videoHeight || 3;
    $('doc-stage').style.setProperty('aspect-ratio', vw + ' / ' + vh);
    const r = cardRect(vw, vh);
    const f = $('card-frame').style;
    f.setProperty('left', r.x * 100 + '%');
    f.setProperty('top', r.y * 100 + '%');
    f.setProperty('width', r.w * 100 + '%');
    f.setProperty('height', r.h * 100 + '%');
  }

  function docParts() {
    const parts = ['doc-stage', 'capture'];
    if (albumAllowed()) parts.push('album-wrap');
    return parts;
  }

  async function startDoc(message) {
    const step = state.next.step;
    const gen = ++state.gen;
    doc.capturing = false;
    doc.passes = 0;
    doc.armedAt = performance.now() + (message ? DOC_REARM_MS : 0);
    $('card-frame').classList.remove('is-ready');
    const hint = has('step.' + step) ? t('step.' + step) : state.next.hint || '';
    show('doc', { title: t('steps.' + step), text: hint + ' ' + t('doc.auto'), message, parts: docParts() });
    $('capture').disabled = true;
    const video = $('doc-video');
    if (!state.stream || !state.stream.active || video.srcObject !== state.stream) {
      stopStream();
      try {
        await openCamera(
          {
            video: { facingMode: { ideal: 'environment' }, width: { ideal: 1920 }, height: { ideal: 1080 } },
            audio: false,
          },
          video
        );
      } catch (e) {
        if (gen !== state.gen || state.ended) return;
        return cameraError(e, () => startDoc(''), true);
      }
    }
    if (gen !== state.gen || state.ended) return stopStream();
    layoutDocStage(video);
    $('capture').disabled = false;
    scheduleDocCheck(gen);
  }

  function scheduleDocCheck(gen) {
    clearTimeout(doc.timer);
    doc.timer = setTimeout(() => {
      if (gen !== state.gen || state.ended || doc.capturing || app.dataset.screen !== 'doc') return;
      try {
        const ok = docCheck($('doc-video'));
        doc.passes = ok ? doc.passes + 1 : 0;
        $('card-frame').classList.toggle('is-ready', ok);
      } catch (_) {
        doc.passes = 0;
      }
      if (doc.passes >= DOC_PASSES_NEEDED && performance.now() >= doc.armedAt) {
        captureDoc();
        return;
      }
      scheduleDocCheck(gen);
    }, DOC_CHECK_MS);
  }

  /**
   * Cheap quality gate on a downscaled frame: sharp enough (variance of the Laplacian inside the frame) and
   * positioned (strong edges in thin bands along the frame's borders, compared with the centre's texture).
   */
  function docCheck(video) {
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    if (!vw || !vh) return false;
    const W = DOC_ANALYSIS_WIDTH;
    const H = Math.max(1, Math.round((vh / vw) * W));
    if (!doc.canvas) doc.canvas = document.createElement('canvas');
    const c = doc.canvas;
    if (c.width !== W || c.height !== H) {
      c.width = W;
      c.height = H;
    }
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, W, H);
    const px = ctx.getImageData(0, 0, W, H).data;
    const Y = new Float32Array(W * H);
    for (let i = 0, j = 0; i < Y.length; i++, j += 4) Y[i] = 0.299 * px[j] + 0.587 * px[j + 1] + 0.114 * px[j + 2];

    const r = cardRect(vw, vh);
    const x0 = Math.round(r.x * W), y0 = Math.round(r.y * H);
    const x1 = Math.round((r.x + r.w) * W), y1 = Math.round((r.y + r.h) * H);

    // Sharpness inside the frame.
    let sum = 0, sum2 = 0, n = 0;
    for (let y = Math.max(1, y0); y < Math.min(H - 1, y1); y++) {
      for (let x = Math.max(1, x0); x < Math.min(W - 1, x1); x++) {
        const i = y * W + x;
        const l = 4 * Y[i] - Y[i - 1] - Y[i + 1] - Y[i - W] - Y[i + W];
        sum += l;
        sum2 += l * l;
        n++;
      }
    }
    if (n === 0) return false;
    const mean = sum / n;
    const sharp = sum2 / n - mean * mean >= SHARPNESS_MIN;

    // Position: for each border, the strongest perpendicular gradient across a thin band, averaged along it.
    const bw = Math.max(2, Math.round(0.04 * (x1 - x0)));
    const bh = Math.max(2, Math.round(0.05 * (y1 - y0)));
    const gx = (x, y) => Math.abs(Y[y * W + Math.min(W - 1, x + 1)] - Y[y * W + Math.max(0, x - 1)]);
    const gy = (x, y) => Math.abs(Y[Math.min(H - 1, y + 1) * W + x] - Y[Math.max(0, y - 1) * W + x]);
    const clampX = (x) => Math.min(W - 1, Math.max(0, x));
    const clampY = (y) => Math.min(H - 1, Math.max(0, y));
    function hBand(yc) {
      let s = 0, m = 0;
      for (let x = x0 + bw; x < x1 - bw; x++, m++) {
        let best = 0;
        for (let y = clampY(yc - bh); y <= clampY(yc + bh); y++) best = Math.max(best, gy(x, y));
        s += best;
      }
      return m ? s / m : 0;
    }
    function vBand(xc) {
      let s = 0, m = 0;
      for (let y = y0 + bh; y < y1 - bh; y++, m++) {
        let best = 0;
        for (let x = clampX(xc - bw); x <= clampX(xc + bw); x++) best = Math.max(best, gx(x, y));
        s += best;
      }
      return m ? s / m : 0;
    }
    // Centre texture, measured the same way (max over a band) so the comparison is fair.
    const cy = Math.round((y0 + y1) / 2);
    const cx = Math.round((x0 + x1) / 2);
    const centre = (hBand(cy) + vBand(cx)) / 2;
    const bands = [hBand(y0), hBand(y1), vBand(x0), vBand(x1)];
    const needed = Math.max(EDGE_MIN, EDGE_RATIO * centre * 0.5);
    const placed = bands.filter((b) => b >= needed).length >= 3;
    return sharp && placed;
  }

  async function captureDoc() {
    if (doc.capturing || state.ended) return;
    const video = $('doc-video');
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    if (!vw || !vh) return;
    doc.capturing = true;
    clearTimeout(doc.timer);
    const gen = state.gen;
    let frame;
    try {
      const c = document.createElement('canvas');
      c.width = vw;
      c.height = vh;
      c.getContext('2d').drawImage(video, 0, 0, vw, vh);
      const blob = await canvasToBlob(c, DOC_JPEG_QUALITY);
      frame = { image: await blobToBase64(blob), t_ms: 0 };
    } catch (_) {
      doc.capturing = false;
      if (gen === state.gen) startDoc(reasonText('UNQUALIFIED_PHOTO'));
      return;
    }
    if (gen !== state.gen || state.ended) return;
    const track = state.stream && state.stream.getVideoTracks()[0];
    const settings = track && track.getSettings ? track.getSettings() : {};
    const source = settings.facingMode === 'user' ? 'front' : 'back';
    await submitRound([frame], { source, width: vw, height: vh }, 'doc');
  }

  async function onAlbumChosen(ev) {
    const input = ev.target;
    const file = input.files && input.files[0];
    input.value = ''; // choosing the same file again must fire change again
    if (!file || state.ended || !isDocStep(state.next && state.next.step)) return;
    state.gen++;
    clearTimeout(doc.timer);
    doc.capturing = true;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (_) {
      doc.capturing = false;
      return startDoc(reasonText('UNQUALIFIED_PHOTO'));
    }
    let width = bitmap.width;
    let height = bitmap.height;
    let blob = file;
    try {
      const asIs = (file.type === 'image/jpeg' || file.type === 'image/png') && file.size <= ALBUM_MAX_BYTES;
      if (!asIs) {
        // Not JPEG/PNG (e.g. HEIC, WebP) or too big: the server takes JPEG/PNG only, so re-encode.
        const s = Math.min(1, ALBUM_MAX_SIDE / Math.max(width, height));
        width = Math.max(1, Math.round(width * s));
        height = Math.max(1, Math.round(height * s));
        const c = document.createElement('canvas');
        c.width = width;
        c.height = height;
        c.getContext('2d').drawImage(bitmap, 0, 0, width, height);
        blob = await canvasToBlob(c, DOC_JPEG_QUALITY);
      }
    } finally {
      if (bitmap.close) bitmap.close();
    }
    const image = await blobToBase64(blob);
    if (state.ended) return;
    await submitRound([{ image, t_ms: 0 }], { source: 'album', width, height }, 'doc');
  }

  // ------------------------------------------------------------------------------------------------
  // Face capture
  // ------------------------------------------------------------------------------------------------

  function showFaceReady(message) {
    state.gen++;
    stopStream();
    app.dataset.challenge = JSON.stringify(state.next.challenge == null ? null : state.next.challenge);
    const tips = $('tips');
    tips.textContent = '';
    for (const k of ['face_ready.tip_oval', 'face_ready.tip_prompts', 'face_ready.tip_light']) {
      const li = document.createElement('li');
      li.textContent = t(k);
      tips.appendChild(li);
    }
    show('face-ready', { title: t('face_ready.title'), text: t('face_ready.text'), message, parts: ['tips', 'face-start'] });
  }

  function setPrompt(text, isAction, action) {
    const p = $('prompt');
    p.textContent = text;
    p.classList.toggle('is-action', !!isAction);
    if (action) p.dataset.action = action;
    else delete p.dataset.action;
  }

  let audioCtx = null;
  function cueFeedback() {
    try {
      // Chrome refuses (and logs) a vibration before any real tap; the face step always follows one.
      const ua = navigator.userActivation;
      if (navigator.vibrate && (!ua || ua.hasBeenActive)) navigator.vibrate(120);
    } catch (_) {
      /* optional */
    }
    try {
      if (!audioCtx) return;
      const o = audioCtx.createOscillator();
      const g = audioCtx.createGain();
      o.frequency.value = 880;
      g.gain.value = 0.08;
      o.connect(g).connect(audioCtx.destination);
      o.start();
      o.stop(audioCtx.currentTime + 0.12);
    } catch (_) {
      /* optional */
    }
  }

  async function startFace() {
    const gen = ++state.gen;
    const instr = state.next;
    const ch = instr.challenge || {};
    // The AudioContext must be created in the user gesture to be allowed to play the cue sound.
    try {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (AC && !audioCtx) audioCtx = new AC();
    } catch (_) {
      audioCtx = null;
    }
    show('face', { title: t('face.title'), text: '', parts: ['face-stage', 'prompt'] });
    setPrompt(t('face.hold_still'), false);
    // A fresh stream for every attempt: a stream kept from a previous attempt may be stale or reused.
    stopStream();
    const video = $('face-video');
    try {
      await openCamera(
        { video: { facingMode: { ideal: 'user' }, width: { ideal: 640 }, height: { ideal: 480 } }, audio: false },
        video
      );
    } catch (e) {
      if (gen !== state.gen || state.ended) return;
      return cameraError(e, () => startFace(), false);
    }
    if (gen !== state.gen || state.ended) return stopStream();
    const vw = video.videoWidth || 3;
    const vh = video.videoHeight || 4;
    $('face-stage').style.setProperty('aspect-ratio', vw + ' / ' + vh);
    // With frame callbacks the warm-up is counted on the camera's own clock (captureFaceFrames): the page's
    // delays in opening the stream then do not shift the capture against what the camera saw.
    if (typeof video.requestVideoFrameCallback !== 'function') await sleep(WARMUP_MS);
    if (gen !== state.gen || state.ended) return stopStream();

    let result;
    try {
      result = await captureFaceFrames(video, instr, ch, gen);
    } catch (_) {
      if (gen !== state.gen || state.ended) return;
      stopStream();
      return showFaceReady(reasonText('LIVENESS_TOO_FEW_FRAMES'));
    }
    if (!result || gen !== state.gen || state.ended) return;
    stopStream();
    $('flash').hidden = true;
    await submitRound(result.frames, { source: 'front', width: result.width, height: result.height }, 'face');
  }

  /**
   * Captures frames_wanted fresh video frames at about frame_interval_ms, running the cue prompts and the colour
   * flash on the same clock (t0 = the first frame). Frames are encoded in the background.
   */
  function captureFaceFrames(video, instr, ch, gen) {
    const wanted = Math.max(1, instr.frames_wanted | 0);
    const interval = Math.max(1, ch.frame_interval_ms | 0 || 100);
    const minGap = Math.max(0, interval - 15);
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    const s = Math.min(1, FACE_MAX_SIDE / Math.max(vw, vh));
    const width = Math.max(1, Math.round(vw * s));
    const height = Math.max(1, Math.round(vh * s));
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    const encoded = [];
    const timers = [];
    let t0 = 0;
    let lastAt = -Infinity;
    // Frame times on the camera's clock (rVFC mediaTime: the stream's own timeline, frame k of a 10 fps stream at
    // k * 100 ms) when the browser gives one, else on the page's clock.
    let mediaClock = false;
    let clock0 = 0;
    let lastClock = -Infinity;
    const openedAt = performance.now();
    let lastMediaTime = -1;
    let lastFrameCount = -1;
    let finished = false;

    const alive = () => gen === state.gen && !state.ended && !finished;
    const clearTimers = () => timers.forEach((id) => clearTimeout(id));

    return new Promise((resolve, reject) => {
      let currentCue = -1;
      function startCues() {
        const actions = Array.isArray(ch.actions) ? ch.actions : [];
        const cues = Array.isArray(ch.cues_ms) ? ch.cues_ms : [];
        const win = ch.action_window_ms | 0 || 1500;
        cues.forEach((cue, k) => {
          const showIt = () => {
            if (!alive()) return;
            const late = performance.now() - t0;
            // Never early: a timer may fire a hair before the cue by the performance clock.
            if (late < cue) return timers.push(setTimeout(showIt, Math.ceil(cue - late)));
            const a = actions[k] || '';
            setPrompt(has('action.' + a) ? t('action.' + a) : t('action.unknown'), true, a);
            cueFeedback();
            const clearAt = Math.min(win, k + 1 < cues.length ? cues[k + 1] - cue : win);
            timers.push(
              setTimeout(() => {
                if (alive() && $('prompt').dataset.action === a && currentCue === k) setPrompt('', false);
              }, Math.max(0, clearAt - (late - cue)))
            );
            currentCue = k;
          };
          timers.push(setTimeout(showIt, cue));
        });
      }

      const colours = Array.isArray(ch.colours) ? ch.colours.filter((c) => parseHex(c)) : [];
      const colourMs = ch.colour_ms | 0;
      const flash = $('flash');
      function paintFlash() {
        if (!alive()) return;
        const el = performance.now() - t0;
        const i = Math.floor(el / colourMs);
        flash.style.setProperty('background-color', i < colours.length ? colours[i] : '#ffffff');
        if (i < colours.length) timers.push(setTimeout(paintFlash, Math.max(1, (i + 1) * colourMs - el)));
      }

      function grab(now, clock) {
        const first = encoded.length === 0;
        ctx.drawImage(video, 0, 0, width, height);
        if (first) {
          t0 = now;
          clock0 = clock;
          if (colours.length && colourMs > 0) {
            flash.hidden = false;
            paintFlash();
          }
          startCues();
        }
        lastAt = now;
        lastClock = clock;
        const tMs = Math.round(clock - clock0);
        // toBlob snapshots the bitmap at call time, so the canvas can be redrawn before the encoding ends.
        encoded.push(canvasToBlob(canvas, FACE_JPEG_QUALITY).then(blobToBase64).then((image) => ({ image, t_ms: tMs })));
        if (encoded.length >= wanted) finish();
      }

      function finish() {
        finished = true;
        clearTimers();
        flash.hidden = true;
        setPrompt('', false);
        Promise.all(encoded).then((frames) => resolve({ frames, width, height }), reject);
      }

      function abandon() {
        finished = true;
        clearTimers();
        flash.hidden = true;
        resolve(null);
      }

      let useRvfc = typeof video.requestVideoFrameCallback === 'function';
      let rvfcSeen = false;

      function onVideoFrame(_now, meta) {
        if (finished || !useRvfc) return;
        if (!alive()) return abandon();
        rvfcSeen = true;
        const now = performance.now();
        const media = meta && Number.isFinite(meta.mediaTime) ? meta.mediaTime * 1000 : null;
        if (encoded.length === 0) {
          // A stream's timeline starts near 0; anything else is not a clock to count the warm-up on.
          mediaClock = media !== null && media >= 0 && media < 60000;
          const warm = mediaClock ? media >= WARMUP_MS - 20 : now - openedAt >= WARMUP_MS;
          if (!warm) return video.requestVideoFrameCallback(onVideoFrame);
        }
        const clock = mediaClock ? media : now;
        // Each callback is a newly presented frame; mediaTime guards against a repeated one all the same.
        const fresh = !meta || meta.mediaTime !== lastMediaTime;
        if (fresh && (encoded.length === 0 || clock - lastClock >= minGap)) {
          if (meta) lastMediaTime = meta.mediaTime;
          grab(now, clock);
        }
        if (!finished) video.requestVideoFrameCallback(onVideoFrame);
      }

      function newFrameByCount() {
        // Without frame callbacks, the decoded-frame counter (where the browser keeps it) tells a new frame apart.
        const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
        if (!q || !q.totalVideoFrames) return true;
        if (q.totalVideoFrames === lastFrameCount) return false;
        lastFrameCount = q.totalVideoFrames;
        return true;
      }

      function poll() {
        if (finished) return;
        if (!alive()) return abandon();
        const now = performance.now();
        if (encoded.length === 0 || now - lastAt >= minGap) {
          if (!newFrameByCount()) return setTimeout(poll, 10);
          grab(now, now);
        }
        if (!finished) setTimeout(poll, Math.max(1, interval - (performance.now() - lastAt)));
      }

      if (useRvfc) {
        video.requestVideoFrameCallback(onVideoFrame);
        // Some browsers deliver no frame callbacks for a video that is not being rendered: poll instead then.
        setTimeout(() => {
          if (!rvfcSeen && !finished && alive()) {
            useRvfc = false;
            poll();
          }
        }, 1000);
      } else {
        poll();
      }

      // Cancelled or abandoned while waiting: settle so nothing hangs on.
      // A camera that stops delivering frames mid-capture must not leave the user waiting forever.
      const watchdog = setInterval(() => {
        if (finished) return clearInterval(watchdog);
        if (!alive()) {
          clearInterval(watchdog);
          return abandon();
        }
        if (encoded.length && performance.now() - lastAt > STALL_MS) {
          clearInterval(watchdog);
          finished = true;
          clearTimers();
          flash.hidden = true;
          setPrompt('', false);
          reject(new Error('stalled'));
        }
      }, 250);
    });
  }

  // ------------------------------------------------------------------------------------------------
  // End
  // ------------------------------------------------------------------------------------------------

  function endTexts(code) {
    if (code === 1006) return state.userCancelled ? ['end.cancelled.title', 'end.cancelled'] : ['end.expired.title', 'end.expired'];
    if (code === 1007) return ['end.used.title', 'end.used'];
    if (code === 1003) return ['end.expired.title', 'end.expired'];
    if (code === 1002 || code === 1004 || code === 1005) return ['end.error.title', 'end.error'];
    return ['end.finished.title', 'end.finished'];
  }

  /** The flow is over: stop everything, show a neutral text (never the verdict), and return to the merchant. */
  function end(resultCode) {
    if (state.ended) return;
    state.ended = true;
    state.gen++;
    clearTimeout(doc.timer);
    stopStream();
    $('flash').hidden = true;
    const [titleKey, textKey] = endTexts(resultCode);
    const url = typeof cfg.return_url === 'string' && cfg.return_url ? cfg.return_url : null;
    show('done', {
      title: t(titleKey),
      text: t(textKey),
      status: url ? t('end.redirect') : t('end.close'),
      parts: [],
      noCancel: true,
      progress: false,
    });
    app.dataset.resultCode = String(resultCode);
    if (url) {
      const target =
        url + (url.includes('?') ? '&' : '?') + 'transactionId=' + encodeURIComponent(cfg.tid) + '&resultCode=' + resultCode;
      setTimeout(() => location.replace(target), REDIRECT_DELAY_MS);
    }
  }

  async function cancel() {
    if (state.ended || state.cancelling) return;
    state.cancelling = true;
    state.userCancelled = true;
    state.gen++;
    clearTimeout(doc.timer);
    stopStream();
    $('flash').hidden = true;
    $('cancel').disabled = true;
    let code = 1006;
    try {
      const a = await send(await prepare('cancel', {}));
      if (a && a.outcome === 'done' && Number.isInteger(a.result_code)) code = a.result_code;
    } catch (e) {
      if (e && e.resultCode != null) code = e.resultCode;
    }
    // §8: a cancel ends with 1006 whatever the server answers; a final code from the server is kept.
    end(code === 1006 || code == null ? 1006 : code);
  }

  // ------------------------------------------------------------------------------------------------
  // Start-up
  // ------------------------------------------------------------------------------------------------

  function wire() {
    $('start').addEventListener('click', () => runInstruction(''));
    $('capture').addEventListener('click', () => captureDoc());
    $('face-start').addEventListener('click', () => startFace());
    $('retry').addEventListener('click', () => {
      const f = retryAction;
      if (f) f();
    });
    $('cancel').addEventListener('click', () => cancel());
    const album = $('album');
    if (cfg.show_album_icon === true) album.addEventListener('change', onAlbumChosen);
    else $('album-wrap').remove(); // not offered at all: no hidden control to reach
    window.addEventListener('pagehide', stopStream);
  }

  async function init() {
    if (cfg && typeof cfg.strings === 'object') applyStrings();
    // A page the server rendered instead of a flow (the link was used, expired or is wrong; this browser cannot
    // capture): the notice is the screen, its texts come from the table.
    const showNotice = (notice) => {
      const key = notice === 'error' ? 'error' : 'notice.' + notice;
      return show(notice, { title: t(key + '.title'), text: t(key === 'error' ? 'error.text' : key), parts: [], noCancel: true, progress: false });
    };
    if (cfg && typeof cfg.notice === 'string') return showNotice(cfg.notice);
    // The page as served runs nothing: the link is spent only now, by this script (a link preview that fetched
    // the page did not spend it), and the answer carries the configuration, credential, session and instruction.
    if (cfg && typeof cfg.open === 'string') {
      let opened = null;
      try {
        const r = await fetch(cfg.open, { method: 'POST', credentials: 'omit', cache: 'no-store' });
        opened = await r.json();
      } catch (_) {
        retryAction = () => location.reload();
        return show('error', { title: t('error.title'), text: t('error.network'), parts: ['retry'], noCancel: true, progress: false });
      }
      if (!opened || typeof opened.notice === 'string') return showNotice((opened && opened.notice) || 'error');
      Object.assign(cfg, opened);
    }
    if (!cfg || typeof cfg.config !== 'string' || typeof cfg.api !== 'string' || typeof cfg.cred !== 'string') {
      retryAction = null;
      return show('error', { title: t('error.title'), text: t('error.text'), parts: [], noCancel: true, progress: false });
    }
    applyStyle(cfg.style);
    wire();
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      return show('error', { title: t('error.title'), text: t('error.insecure'), parts: [], noCancel: true, progress: false });
    }
    if (cfg.next && typeof cfg.next === 'object') {
      state.next = cfg.next;
      return showIntro();
    }
    // No instruction embedded (a reload after the flow moved on): ask where the session stands.
    try {
      const st = await send(await prepare('status', {}));
      if (st.next) {
        state.next = st.next;
        return showIntro();
      }
      return end(Number.isInteger(st.result_code) ? st.result_code : 1007);
    } catch (e) {
      if (e.resultCode != null) return end(e.resultCode);
      retryAction = () => location.reload();
      show('error', { title: t('error.title'), text: t('error.text'), parts: ['retry'] });
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
