#!/usr/bin/env python3
"""The mobile SDK through its generated Python bindings (bindings/python, the same UniFFI interface as Kotlin and
Swift), against a real idv server: the test plays the app. It pushes camera frames one by one with 30 fps
timestamps, as CameraX or AVFoundation would deliver them, and plays the platform's face detector by passing a
face rectangle; the merchant side is the official Alibaba Cloud Python SDK.

    .venv/bin/python tests/mobile/mobile_flow.py --endpoint 127.0.0.1:PORT --config keys.json --idv target/debug/idv \
        --lib target/debug/libidv_mobile.so --proxy-port PORT2 --work DIR [--only NAME]

keys.json: {"ak_id", "ak_secret"} (written by crates/idv/tests/it/mobile_flow.rs, which starts the server with
`--public-url http://127.0.0.1:PORT2`: every device call goes through this script's proxy, which can cut a
connection). Prints `PASS <name>` / `FAIL <name>: <why>`, then `N passed, M failed`; exit 1 on failures.

Frames: documents from `idv specimen` shown by `idv video still --in-card-frame`, faces from `idv video face`
rendered for the challenge the server issued (the SDK announces it in StepStarted), both y4m (BT.601 4:2:0),
repacked to NV21 here as Android's camera delivers them. The face video starts FACE_READY_FRAMES frames before
its capture (`--lead-ms`): the SDK starts the liveness clock after that many well-framed frames.
"""
from __future__ import annotations

import argparse
import http.client
import http.server
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback

from alibabacloud_cloudauth_intl20220809 import models as m
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_tea_openapi.models import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PORTRAIT = os.path.join(ROOT, 'testdata/faces/biden.jpg')
FPS = 30
# crates/idv-mobile/src/capture.rs FACE_READY_FRAMES: good frames before the liveness clock starts.
FACE_READY_FRAMES = 3
SCENARIOS = []
sdk = None  # the generated module, imported once the library is in place


def scenario(f):
    SCENARIOS.append(f)
    return f


# --- frames -------------------------------------------------------------------------------------------------


def read_y4m(path: str) -> tuple[int, int, list[tuple[bytes, bytes, bytes]]]:
    """The (Y, U, V) planes of every frame of a 4:2:0 y4m file."""
    data = open(path, 'rb').read()
    head, _, rest = data.partition(b'\n')
    fields = head.split()
    assert fields[0] == b'YUV4MPEG2', head
    w = int(next(f[1:] for f in fields if f.startswith(b'W')))
    h = int(next(f[1:] for f in fields if f.startswith(b'H')))
    ysize, csize = w * h, (w // 2) * (h // 2)
    frames, i = [], 0
    while i < len(rest):
        assert rest[i:i + 6] == b'FRAME\n', f'bad frame marker at {i}'
        i += 6
        frames.append((rest[i:i + ysize], rest[i + ysize:i + ysize + csize],
                       rest[i + ysize + csize:i + ysize + 2 * csize]))
        i += ysize + 2 * csize
    return w, h, frames


def nv21(planes: tuple[bytes, bytes, bytes]) -> bytes:
    """Android's NV21: the Y plane, then V and U interleaved."""
    y, u, v = planes
    vu = bytearray(2 * len(u))
    vu[0::2] = v
    vu[1::2] = u
    return bytes(y) + bytes(vu)


def darker(planes, factor=0.2):
    y, u, v = planes
    table = bytes(int(16 + (i - 16) * factor) if i > 16 else i for i in range(256))
    return y.translate(table), u, v


def with_glare(planes, w, h):
    """A specular patch (white, Y 235) over a fifth of the frame's centre, as a laminated card reflects a lamp."""
    y = bytearray(planes[0])
    x0, x1, y0, y1 = int(w * 0.35), int(w * 0.65), int(h * 0.3), int(h * 0.55)
    for r in range(y0, y1):
        y[r * w + x0:r * w + x1] = b'\xeb' * (x1 - x0)
    return bytes(y), planes[1], planes[2]


def shifted(planes, w, h):
    """The document moved down and right by a quarter of the frame: its edges off the guide."""
    dx, dy = w // 4, h // 4
    def move(p, pw, ph, fill):
        out = bytearray([fill]) * (pw * ph)
        for r in range(ph - dy * ph // h):
            src = p[r * pw:(r + 1) * pw - dx * pw // w]
            dst = (r + dy * ph // h) * pw + dx * pw // w
            out[dst:dst + len(src)] = src
        return bytes(out)
    y, u, v = planes
    return move(y, w, h, 40), move(u, w // 2, h // 2, 128), move(v, w // 2, h // 2, 128)


def blurred(planes, w, h, k=4, radius=4):
    """Out of focus: a box blur at a quarter of the size, shown back at full size."""
    y = planes[0]
    sw, sh = w // k, h // k
    small = [[y[(r * k) * w + c * k] for c in range(sw)] for r in range(sh)]
    def box(rows, n_w, n_h):
        out = []
        for row in rows:
            acc = []
            for c in range(n_w):
                lo, hi = max(0, c - radius), min(n_w, c + radius + 1)
                acc.append(sum(row[lo:hi]) // (hi - lo))
            out.append(acc)
        return out
    horiz = box(small, sw, sh)
    cols = [list(col) for col in zip(*horiz)]
    vert = [list(col) for col in zip(*box(cols, sh, sw))]
    big = bytearray()
    for row in vert:
        line = bytes(itertools.chain.from_iterable(zip(*([row] * k))))
        big += line * k
    return bytes(big), planes[1], planes[2]


def face_at(left, top, width, height, yaw=0.0):
    return sdk.FaceObservation(bounds=sdk.Rect(left=left, top=top, width=width, height=height), yaw_degrees=yaw,
                               roll_degrees=0.0)


# Where the synthetic portrait's face is in `idv video face` frames (480 x 640): what an OS detector reports.
FACE_FRAMED = (0.25, 0.22, 0.5, 0.42)


# --- the app ------------------------------------------------------------------------------------------------


class App:
    """One verification as an app runs it: the SDK object, the events it delivered, and the camera."""

    def __init__(self, env: 'Env', cfg: str, meta: str, **options):
        self.env = env
        self.events = []
        self.cond = threading.Condition()
        opts = sdk.default_options()
        opts.platform_face_detection = True
        opts.network_base_delay_ms = 100
        for k, v in options.items():
            setattr(opts, k, v)
        app = self

        class Listener(sdk.VerificationListener):
            def on_event(self, event):
                with app.cond:
                    app.events.append(event)
                    app.cond.notify_all()

        self.listener = Listener()
        self.v = sdk.Verification.start(cfg, meta, opts, self.listener)
        self.clock_ms = 1_000_000  # the camera's monotonic clock
        self.pushed = 0

    def wait(self, what: str, pred, timeout=120.0):
        return self.next_event(0, pred, what, timeout)[1]

    def next_event(self, start: int, pred, what: str, timeout=180.0):
        """The first event from index `start` on matching `pred`, with its index."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.events)):
                    if pred(self.events[i]):
                        return i, self.events[i]
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f'timed out waiting for {what}; events: {self.summary()}')
                self.cond.wait(left)

    def push(self, planes, w, h, face, stop_after: int | None = None) -> bool:
        """One camera frame, 30 fps after the last. Waits while the SDK's queue is full (a real camera would drop
        the frame; the test keeps every frame so what the SDK sees is deterministic), unless the attempt's frames
        are already chosen (an Uploading event after index `stop_after`): then returns False."""
        frame = sdk.CameraFrame(bytes=nv21(planes), width=w, height=h, format=sdk.PixelFormat.NV21, row_stride=0,
                                timestamp_ms=self.clock_ms + (self.pushed * 1000 + FPS // 2) // FPS, rotation=0,
                                face=face)
        while not self.v.push_frame(frame):
            if stop_after is not None and self.uploading_since(stop_after):
                return False
            if self.finished():
                return False
            time.sleep(0.003)
        self.pushed += 1
        time.sleep(self.env.frame_pause)
        return True

    def uploading_since(self, start: int) -> bool:
        with self.cond:
            return any(e.is_UPLOADING() or e.is_FINISHED() for e in self.events[start:])

    def finished(self) -> bool:
        with self.cond:
            return any(e.is_FINISHED() for e in self.events)

    def result(self, timeout=180.0):
        return self.next_event(0, lambda e: e.is_FINISHED(), 'Finished', timeout)[1].result

    def summary(self) -> str:
        out = []
        for e in self.events:
            name = type(e).__name__
            if e.is_GUIDANCE():
                out.append(f'Guidance({e.guidance.name})')
            elif e.is_STEP_STARTED():
                out.append(f'StepStarted({e.step.name}, round {e.round})')
            elif e.is_RETAKE():
                out.append(f'Retake({e.reason_code})')
            elif e.is_FINISHED():
                out.append(f'Finished({e.result.result_code}, {e.result.message})')
            elif e.is_LIVENESS_ACTION():
                out.append(f'Action({e.index}:{e.action},{e.remaining_ms})')
            elif e.is_NETWORK_RETRY():
                out.append(f'NetworkRetry({e.attempt}: {e.reason})')
            else:
                out.append(name)
        return ', '.join(out)

    def run_document(self, frames, w, h, start: int, bad_first: bool):
        """Pushes the document camera until the SDK has chosen its frame. With `bad_first`, first the problems
        the guidance must name, in the order they are fixed: dark, glare, off the guide, out of focus."""
        good = frames[0]
        if bad_first:
            for planes in (darker(good), with_glare(good, w, h), shifted(good, w, h), blurred(good, w, h)):
                for _ in range(4):
                    self.push(planes, w, h, None, start)
        for planes in itertools.cycle(frames):
            if not self.push(planes, w, h, None, start):
                break

    def run_face(self, challenge, kind: str, start: int, preroll: bool):
        w, h, frames = self.env.face_video(challenge, kind)
        if preroll:
            # The person not yet in place: no face, too far, off to the side, turned away.
            for face in (None, face_at(0.4, 0.4, 0.15, 0.12), face_at(0.55, 0.2, 0.45, 0.4),
                         face_at(*FACE_FRAMED, yaw=35.0)):
                for _ in range(3):
                    self.push(frames[0], w, h, face, start)
        for planes in frames:
            if not self.push(planes, w, h, face_at(*FACE_FRAMED), start):
                break

    def drive(self, doc_frames=None, face_kind='genuine', guidance=False, max_face_attempts=4):
        """Plays the user through every capture attempt until the SDK finishes."""
        face_attempts = 0
        seen = 0
        while True:
            i, e = self.next_event(seen, lambda e: e.is_STEP_STARTED() or e.is_FINISHED(), 'the next step')
            seen = i + 1
            if e.is_FINISHED():
                return face_attempts
            if e.step in (sdk.Step.DOCUMENT_FRONT, sdk.Step.DOCUMENT_BACK):
                w, h, frames = doc_frames
                self.run_document(frames, w, h, seen, guidance and e.round == 1)
            else:
                face_attempts += 1
                assert face_attempts <= max_face_attempts, f'more than {max_face_attempts} face attempts'
                assert e.challenge is not None, 'the face step came without its challenge'
                self.run_face(e.challenge, face_kind, seen, guidance and face_attempts == 1)


# --- the merchant and the network ---------------------------------------------------------------------------


class CuttingProxy:
    """The phone's network: forwards device calls to the server; `cuts` lists what to do to the next round
    requests: 'drop-request' (the connection dies before the server gets it) or 'drop-answer' (the server
    answers, the phone never hears it)."""

    def __init__(self, port: int, upstream: str):
        self.cuts: list[str] = []
        self.log: list[str] = []
        proxy = self
        host, up_port = upstream.rsplit(':', 1)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('content-length', 0)))
                cut = None
                if self.path.endswith('/round') and proxy.cuts:
                    cut = proxy.cuts.pop(0)
                proxy.log.append(f'{self.path} {cut or "ok"}')
                if cut == 'drop-request':
                    self.close_connection = True
                    return
                conn = http.client.HTTPConnection(host, int(up_port), timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower().startswith('x-idv-')
                           or k.lower() == 'content-type'}
                conn.request('POST', self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if cut == 'drop-answer':
                    self.close_connection = True
                    return
                self.send_response(resp.status)
                for k in ('content-type', 'retry-after'):
                    if resp.getheader(k):
                        self.send_header(k, resp.getheader(k))
                self.send_header('content-length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Env:
    def __init__(self, args):
        keys = json.load(open(args.config))
        self.client = Client(Config(access_key_id=keys['ak_id'], access_key_secret=keys['ak_secret'],
                                    endpoint=args.endpoint, protocol='HTTP'))
        self.idv, self.work = args.idv, args.work
        self.frame_pause = 1.0 / FPS / args.speed
        self.proxy = CuttingProxy(args.proxy_port, args.endpoint)
        self.biz = {}
        self.videos = 0
        self._doc = None
        self.meta = sdk.get_meta_info(sdk.DeviceInfo(platform=sdk.Platform.ANDROID, model='Pixel 7', os_version='14',
                                                     app_id='com.example.shop', app_version='2.3.1'))

    def run_idv(self, *args) -> str:
        out = subprocess.run([self.idv, *args], capture_output=True, text=True,
                             env={**os.environ, 'IDV_ASSETS_DIR': ROOT})
        if out.returncode != 0:
            raise AssertionError(f'idv {args[0]} failed: {out.stderr[-2000:]}')
        return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ''

    def document(self):
        """A passport page of the person in PORTRAIT, held in the guide over a desk, as the camera sees it."""
        if self._doc is None:
            folder = os.path.join(self.work, 'doc')
            page = self.run_idv('specimen', '--out', folder, '--kind', 'td3', '--seed', '31', '--set',
                                'portrait=biden.jpg')
            cam = os.path.join(self.work, 'doc.y4m')
            self.run_idv('video', 'still', '--picture', page, '--max-size', '1280x960', '--in-card-frame',
                         '--fps', '10', '--seconds', '1', '--out', cam)
            self._doc = read_y4m(cam)
        return self._doc

    def face_video(self, challenge, kind):
        # A new seed for every video: the same seed renders the same sway, which the server's replay registry
        # rightly takes for a copy of the earlier capture.
        self.videos += 1
        c = {'actions': challenge.actions, 'cues_ms': challenge.cues_ms, 'colours': challenge.colours,
             'colour_ms': challenge.colour_ms, 'frame_interval_ms': challenge.frame_interval_ms,
             'action_window_ms': challenge.action_window_ms}
        out = os.path.join(self.work, f'face-{self.videos}.y4m')
        lead = (FACE_READY_FRAMES * 1000 + FPS - 1) // FPS
        self.run_idv('video', 'face', '--portrait', PORTRAIT, '--challenge', json.dumps(c), '--kind', kind,
                     '--seed', str(5000 + self.videos), '--fps', str(FPS), '--lead-ms', str(lead), '--out', out)
        return read_y4m(out)

    def initialize(self, product, **extra):
        biz = 'app' + os.urandom(6).hex()
        params = dict(product_code=product, merchant_biz_id=biz, merchant_user_id='user-1', meta_info=self.meta,
                      model='LIVENESS')
        if product in ('eKYC', 'ID_OCR'):
            params['doc_type'] = '01000000'
        params.update(extra)
        r = self.client.initialize(m.InitializeRequest(**params)).body
        assert r.code == 'Success', f'Initialize: {r.code} {r.message}'
        assert r.result.client_cfg, r.result
        self.biz[r.result.transaction_id] = biz
        return r.result

    def check_result(self, tid):
        return self.client.check_result(
            m.CheckResultRequest(transaction_id=tid, merchant_biz_id=self.biz[tid])).body.result


# --- scenarios ----------------------------------------------------------------------------------------------


def kinds(app: App, step) -> list[str]:
    return [e.guidance.name for e in app.events if e.is_GUIDANCE() and e.step == step]


@scenario
def genuine_ekyc_passes_with_guidance_in_order(env: Env):
    r = env.initialize('eKYC')
    app = App(env, r.client_cfg, env.meta)
    face_attempts = app.drive(doc_frames=env.document(), guidance=True)
    res = app.result()
    check = env.check_result(r.transaction_id)
    assert res.result_code == 1000, f'a genuine user should pass: {res}; {app.summary()}; {check.ext_face_info}'
    assert res.transaction_id == r.transaction_id
    assert check.passed == 'Y', f'CheckResult: {check.passed} {check.sub_code}'
    doc = kinds(app, sdk.Step.DOCUMENT_FRONT)
    assert doc == ['TOO_DARK', 'GLARE', 'DOCUMENT_NOT_IN_FRAME', 'TOO_BLURRY', 'OK'], f'document guidance: {doc}'
    face = kinds(app, sdk.Step.FACE)
    want_face = ['NO_FACE', 'FACE_TOO_FAR', 'FACE_OFF_CENTRE', 'FACE_NOT_FRONTAL', 'OK']
    assert face[:5] == want_face, f'face guidance: {face}'
    # Per face attempt: the step, the capture clock, every action's prompt then its end in order, the upload.
    ev = app.events
    starts = [i for i, e in enumerate(ev) if e.is_STEP_STARTED() and e.step == sdk.Step.FACE]
    for n, s in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(ev)
        part = ev[s:end]
        actions = part[0].challenge.actions
        order = [('start' if e.is_CAPTURE_STARTED() else f'a{e.index}' if e.is_LIVENESS_ACTION()
                  else f'end{e.index}' if e.is_LIVENESS_ACTION_ENDED() else 'up')
                 for e in part if e.is_CAPTURE_STARTED() or e.is_LIVENESS_ACTION() or e.is_LIVENESS_ACTION_ENDED()
                 or e.is_UPLOADING()]
        dedup = [k for k, _ in itertools.groupby(order)]
        want = ['start'] + [x for k in range(len(actions)) for x in (f'a{k}', f'end{k}')] + ['up']
        assert dedup == want, f'face attempt {n + 1}: {dedup}, want {want}'
        uploaded = next(e for e in part if e.is_UPLOADING())
        assert uploaded.frames == part[0].challenge.frames_wanted, uploaded
    # The SDK did not upload the camera's 30 fps: one document frame, and the face at the challenge's cadence.
    doc_up = next(e for e in ev if e.is_UPLOADING() and e.step == sdk.Step.DOCUMENT_FRONT)
    assert doc_up.frames == 1, doc_up
    print(f'INFO genuine: passed in {face_attempts} face attempt(s); {app.pushed} frames pushed; uploads: '
          + ', '.join(f'{e.step.name} {e.frames} frames {e.bytes // 1024} KiB' for e in ev if e.is_UPLOADING()))


@scenario
def colour_flash_liveness_shows_the_issued_colours(env: Env):
    """PHOTINUS: the SDK tells the app each colour of the challenge at its time on the camera clock, then white;
    the synthetic face is lit by the same colours at the same times, and passes."""
    r = env.initialize('FACE_LIVENESS', model='PHOTINUS_LIVENESS')
    app = App(env, r.client_cfg, env.meta)
    attempts = app.drive()
    res = app.result()
    check = env.check_result(r.transaction_id)
    assert res.result_code == 1000, f'a genuine user under the flash should pass: {res}; {check.ext_face_info}'
    ev = app.events
    last = max(i for i, e in enumerate(ev) if e.is_STEP_STARTED())
    colours = ev[last].challenge.colours
    assert len(colours) >= 4, f'the challenge had no colours: {ev[last]}'
    shown = [e.colour for e in ev[last:] if e.is_SHOW_COLOUR()]
    assert shown == colours + ['#ffffff'], f'colours shown {shown}, issued {colours}'
    print(f'INFO photinus: passed in {attempts} attempt(s), {len(colours)} colours shown in order')


@scenario
def printed_photo_fails(env: Env):
    r = env.initialize('FACE_LIVENESS')
    app = App(env, r.client_cfg, env.meta)
    attempts = app.drive(face_kind='printed-photo')
    res = app.result()
    check = env.check_result(r.transaction_id)
    assert res.result_code not in (1000,), f'a printed photo must not pass: {res}; {app.summary()}'
    assert res.result_code in (1001, 1014), f'the flow should end with a verdict: {res}'
    assert check.passed == 'N', f'CheckResult: {check.passed} {check.sub_code}'
    print(f'INFO printed: result {res.result_code}, SubCode {check.sub_code}, {attempts} attempt(s)')


@scenario
def cancelled_session_ends_with_the_cancel_code(env: Env):
    r = env.initialize('eKYC')
    app = App(env, r.client_cfg, env.meta)
    app.wait('the document step', lambda e: e.is_STEP_STARTED())
    w, h, frames = env.document()
    # The user looks at the dark screen, then leaves.
    for _ in range(3):
        app.push(darker(frames[0]), w, h, None)
    app.wait('guidance', lambda e: e.is_GUIDANCE())
    app.v.cancel()
    res = app.result(timeout=30)
    assert res.result_code == 1006, f'a cancel ends with 1006: {res}'
    assert not app.v.push_frame(sdk.CameraFrame(bytes=nv21(frames[0]), width=w, height=h,
                                                format=sdk.PixelFormat.NV21, row_stride=0, timestamp_ms=1,
                                                rotation=0, face=None)), 'a finished SDK took a frame'
    check = env.check_result(r.transaction_id)
    assert check.passed == 'N' and check.sub_code == '208', f'CheckResult: {check.passed} {check.sub_code}'


@scenario
def network_cut_mid_round_is_retried(env: Env):
    r = env.initialize('ID_OCR')
    env.proxy.cuts = ['drop-request', 'drop-answer']
    before = len(env.proxy.log)
    app = App(env, r.client_cfg, env.meta)
    app.drive(doc_frames=env.document())
    res = app.result()
    retries = [e for e in app.events if e.is_NETWORK_RETRY()]
    log = env.proxy.log[before:]
    assert res.result_code == 1000, f'the document should pass after the retries: {res}; {app.summary()}'
    assert len(retries) == 2, f'two cut attempts, two retries: {app.summary()}'
    rounds = [line for line in log if line.startswith('/device/v1/round')]
    assert rounds == ['/device/v1/round drop-request', '/device/v1/round drop-answer', '/device/v1/round ok'], log
    check = env.check_result(r.transaction_id)
    assert check.passed == 'Y', f'CheckResult: {check.passed} {check.sub_code}'


def main() -> int:
    global sdk
    ap = argparse.ArgumentParser()
    ap.add_argument('--endpoint', required=True)
    ap.add_argument('--config', required=True)
    ap.add_argument('--idv', required=True)
    ap.add_argument('--lib', required=True)
    ap.add_argument('--proxy-port', type=int, required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--speed', type=float, default=2.0, help='camera frames pushed per 1/30 s of wall time')
    ap.add_argument('--only', default=None)
    args = ap.parse_args()
    # The bindings load the library from their own directory, as an app bundles them.
    pkg = os.path.join(args.work, 'pylib')
    os.makedirs(pkg, exist_ok=True)
    shutil.copy(os.path.join(ROOT, 'bindings/python/idv_mobile.py'), pkg)
    shutil.copy(args.lib, os.path.join(pkg, 'libidv_mobile.so'))
    sys.path.insert(0, pkg)
    import idv_mobile
    sdk = idv_mobile
    env = Env(args)
    passed = failed = 0
    try:
        for f in SCENARIOS:
            if args.only and f.__name__ != args.only:
                continue
            t = time.time()
            try:
                f(env)
                passed += 1
                print(f'PASS {f.__name__} ({time.time() - t:.0f} s)', flush=True)
            except Exception as e:  # noqa: BLE001 -- every failure is reported, the next scenario still runs
                failed += 1
                print(f'FAIL {f.__name__}: {e}\n{traceback.format_exc()}', flush=True)
    finally:
        env.proxy.server.shutdown()
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
