#!/usr/bin/env python3
"""Browser tests of the hosted web flow: headless Chromium (Debian's chromium + chromium-driver) on idv's page at
TransactionUrl, the camera fed from y4m videos made by `idv video`, the merchant side played by the official
Alibaba Cloud Python SDK.

    .venv/bin/python tests/web/web_flow.py --endpoint 127.0.0.1:PORT --config keys.json --idv target/debug/idv \
        --shots target/web-flow [--only NAME]

keys.json: {"ak_id": "...", "ak_secret": "..."} (written by crates/idv/tests/it/web_flow.rs, which starts the
server). Prints `PASS <name>` / `FAIL <name>: <why>` per scenario, then `N passed, M failed`; exit 1 on failures.

How a video meets a challenge it could not know in advance: the page shows the face step's challenge (which
the device must know anyway) in `data-challenge` before the user presses Start, and opens the camera afresh
for every attempt. The test renders the person performing exactly that challenge into the camera file, then
presses Start; Chromium's fake camera reads the file from its first frame when the page opens it, and the page
starts its capture clock `WARMUP_MS` (1000 ms) later, which `idv video face --lead-ms 1000` accounts for.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import base64

from alibabacloud_cloudauth_intl20220809 import models as m
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_tea_openapi.models import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver import Chromedriver, Session, WebDriverError  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
UA = ('Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) '
      'Chrome/156.0.0.0 Mobile Safari/537.36')
# What the official web SDK's getMetaInfo() produces.
WEB_META = json.dumps({'bioMetaInfo': '4.1.0:2916352,0', 'deviceType': 'h5', 'ua': UA})
PORTRAIT = os.path.join(ROOT, 'testdata/faces/biden.jpg')
SCENARIOS = []


def scenario(f):
    SCENARIOS.append(f)
    return f


class Env:
    def __init__(self, args):
        keys = json.load(open(args.config))
        self.client = Client(Config(access_key_id=keys['ak_id'], access_key_secret=keys['ak_secret'],
                                    endpoint=args.endpoint, protocol='HTTP'))
        self.idv, self.shots, self.work = args.idv, args.shots, args.work
        os.makedirs(self.shots, exist_ok=True)
        os.makedirs(self.work, exist_ok=True)
        self.camera = os.path.join(self.work, 'camera.y4m')
        self.driver = None
        self.returned = start_return_server()
        self.doc = None
        self.biz = {}
        self.videos = 0

    def run_idv(self, *args) -> str:
        out = subprocess.run([self.idv, *args], capture_output=True, text=True, env={**os.environ,
                             'IDV_ASSETS_DIR': ROOT})
        if out.returncode != 0:
            raise AssertionError(f'idv {args[0]} failed: {out.stderr[-2000:]}')
        return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ''

    def document_video(self):
        """A passport page of the person in PORTRAIT as the camera's picture."""
        if self.doc is None:
            folder = os.path.join(self.work, 'doc')
            self.doc = self.run_idv('specimen', '--out', folder, '--kind', 'td3', '--seed', '31', '--set',
                                    'portrait=biden.jpg')
        self.run_idv('video', 'still', '--picture', self.doc, '--max-size', '1280x960', '--in-card-frame',
                     '--out', self.camera)

    def face_video(self, challenge: dict, kind='genuine'):
        # A new seed for every video: the same seed renders the same sway and reaction times, which the server's
        # replay registry rightly recognises as a copy of the earlier capture (capture_replayed).
        self.videos += 1
        self.run_idv('video', 'face', '--portrait', PORTRAIT, '--challenge', json.dumps(challenge), '--kind', kind,
                     '--seed', str(1000 + self.videos), '--out', self.camera)

    def initialize(self, product='eKYC', **extra) -> m.InitializeResponseBodyResult:
        biz = 'web' + os.urandom(6).hex()
        params = dict(product_code=product, merchant_biz_id=biz, merchant_user_id='user-1', meta_info=WEB_META,
                      model='LIVENESS', return_url=self.returned.url + '/return?order=' + biz)
        if product in ('eKYC', 'ID_OCR'):
            params['doc_type'] = '01000000'
        params.update(extra)
        r = self.client.initialize(m.InitializeRequest(**params)).body
        assert r.code == 'Success', f'Initialize: {r.code} {r.message}'
        assert r.result.transaction_url and r.result.transaction_id in r.result.transaction_url, r.result
        self.biz[r.result.transaction_id] = biz
        return r.result

    def check_result(self, tid: str):
        return self.client.check_result(m.CheckResultRequest(transaction_id=tid, merchant_biz_id=self.biz[tid])).body.result

    def browser(self, lang='en-US', **kw) -> Session:
        if self.driver is None:
            self.driver = Chromedriver.start()
        return self.driver.session(fake_camera=self.camera, lang=lang, **kw)


def start_return_server():
    """The merchant's ReturnUrl: a page that only says the browser came back (the test reads the URL)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'<!doctype html><title>returned</title><p id="returned">back at the merchant</p>'
            self.send_response(200)
            self.send_header('content-type', 'text/html')
            self.send_header('content-length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.url = f'http://127.0.0.1:{srv.server_address[1]}'
    return srv


def shot(env: Env, s: Session, name: str, must_show: list[str]):
    """A screenshot of a step, checked for the step's key elements (shown at the time it was taken)."""
    for css in must_show:
        assert s.exists(css) and s.displayed(css), f'{name}: {css} is not shown (screen {s.screen()!r})'
    png = s.screenshot(os.path.join(env.shots, f'{name}.png'))
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 4000, f'{name}: the screenshot is empty'


def run_flow(env: Env, s: Session, url: str, name: str, face_kind='genuine', max_attempts=4) -> dict:
    """Drives the page from its first screen to the merchant's ReturnUrl; returns the ReturnUrl's query."""
    s.get(url)
    s.wait('the intro screen', lambda: s.screen() == 'intro')
    shot(env, s, f'{name}-1-intro', ['#start', '#cancel'])
    s.click('#start')
    attempts, doc_shot, deadline = 0, False, time.time() + 600
    auto_docs = manual_docs = 0
    while time.time() < deadline:
        if s.url().startswith(env.returned.url):
            break
        screen = s.screen()
        if screen == 'doc':
            if not doc_shot:
                s.wait('the document camera', lambda: s.script(
                    "const v = document.getElementById('doc-video'); return v && v.videoWidth > 0;"), 20)
                shot(env, s, f'{name}-2-document', ['#doc-video', '#capture'])
                doc_shot = True
            # The page captures by itself when the card is inside the frame and sharp; the button is the fallback.
            try:
                s.wait('the automatic document capture', lambda: s.screen() != 'doc', 15)
                auto_docs += 1
            except WebDriverError:
                manual_docs += 1
                s.click('#capture')
                s.wait('the document upload', lambda: s.screen() != 'doc', 30)
        elif screen == 'face-ready':
            attempts += 1
            assert attempts <= max_attempts, f'more than {max_attempts} face attempts'
            challenge = json.loads(s.attr('#app', 'data-challenge'))
            env.face_video(challenge, kind=face_kind)
            shot(env, s, f'{name}-3-face-ready-{attempts}', ['#face-start'])
            s.click('#face-start')
            s.wait('the face capture', lambda: s.screen() != 'face-ready', 20)
            if s.screen() == 'face':
                time.sleep(2.5)
                if s.screen() == 'face':
                    shot(env, s, f'{name}-4-face-{attempts}', ['#face-video', '#prompt'])
        elif screen in ('error', 'camera-denied', 'no-camera', 'camera-busy', 'link-used', 'link-expired',
                        'link-invalid', 'browser-unsupported'):
            raise AssertionError(f'the page shows {screen}: {s.script("return document.body.innerText")[:300]}')
        elif screen == 'done':
            shot(env, s, f'{name}-5-done', [])
            s.wait('the redirect to ReturnUrl', lambda: s.url().startswith(env.returned.url), 10)
            break
        time.sleep(0.3)
    final = s.url()
    assert final.startswith(env.returned.url + '/return?'), f'ended at {final}'
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(final).query))
    query['face_attempts'] = attempts
    query['doc_captures'] = f'{auto_docs} automatic, {manual_docs} with the button'
    return query


def device_start(cfg: str) -> int:
    """A device API `start` with the transaction's configuration (as an app would): the HTTP status."""
    payload = json.loads(base64.urlsafe_b64decode(cfg.split('.')[1] + '=='))
    key = base64.urlsafe_b64decode(payload['cred'] + '==')
    body = json.dumps({'meta_info': WEB_META, 'device_time_ms': int(time.time() * 1000)}).encode()
    url = payload['api'] + '/start'
    path = urllib.parse.urlsplit(url).path
    msg = f'IDV-DEVICE-V1\nPOST\n{path}\n\n{hashlib.sha256(body).hexdigest()}'.encode()
    sig = hmac.new(key, msg, hashlib.sha256).hexdigest()
    req = urllib.request.Request(url, data=body, method='POST', headers={
        'content-type': 'application/json', 'x-idv-config': cfg, 'x-idv-session': '', 'x-idv-signature': sig})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@scenario
def genuine_ekyc_then_reused_link(env: Env):
    r = env.initialize('eKYC')
    env.document_video()
    s = env.browser()
    try:
        q = run_flow(env, s, r.transaction_url, 'genuine')
    finally:
        s.close()
    assert q.get('transactionId') == r.transaction_id, q
    assert q['doc_captures'].startswith('1 automatic, 0'), f'the page did not capture the document by itself: {q}'
    res = env.check_result(r.transaction_id)
    assert q.get('resultCode') == '1000', f'a genuine user should pass: {q}; {res.sub_code} {res.ext_face_info}'
    assert res.passed == 'Y', f'CheckResult: {res.passed} {res.sub_code}'
    print(f'INFO genuine: passed in {q["face_attempts"]} face attempt(s); document: {q["doc_captures"]}')
    # The link is single use: a second open says so, and the API refuses a second device session.
    s = env.browser()
    try:
        s.get(r.transaction_url)
        s.wait('the used-link notice', lambda: s.screen() == 'link-used', 20)
        shot(env, s, 'reused-link', ['h1'])
    finally:
        s.close()
    status = device_start(r.protocol)
    assert status == 409, f'a device start after the page used the link answered {status}'


@scenario
def colour_flash_liveness(env: Env):
    """PHOTINUS: the page flashes the issued colours while the person performs the actions; the synthetic face is
    lit by them at the times the server asked for."""
    r = env.initialize('FACE_LIVENESS', model='PHOTINUS_LIVENESS')
    s = env.browser()
    try:
        q = run_flow(env, s, r.transaction_url, 'photinus')
    finally:
        s.close()
    res = env.check_result(r.transaction_id)
    assert q.get('resultCode') == '1000', f'a genuine user under the flash should pass: {q}; {res.ext_face_info}'
    face = json.loads(res.ext_face_info or '{}')
    colours = face.get('liveness', {}).get('challenge', {}).get('colours', [])
    assert len(colours) >= 4, f'the challenge had no colours: {face}'
    print(f'INFO photinus: passed in {q["face_attempts"]} face attempt(s), {len(colours)} colours')


@scenario
def printed_photo_fails(env: Env):
    r = env.initialize('FACE_LIVENESS')
    s = env.browser()
    try:
        q = run_flow(env, s, r.transaction_url, 'printed', face_kind='printed-photo')
    finally:
        s.close()
    assert q.get('resultCode') not in (None, '1000'), f'a printed photo must not pass: {q}'
    res = env.check_result(r.transaction_id)
    assert res.passed == 'N', f'CheckResult: {res.passed} {res.sub_code}'
    print(f'INFO printed: resultCode {q["resultCode"]}, SubCode {res.sub_code}, {q["face_attempts"]} attempts, '
          f'{res.ext_face_info}')


@scenario
def chinese_strings(env: Env):
    zh = json.load(open(os.path.join(ROOT, 'crates/idv-server/web/i18n/zh.json'), encoding='utf-8'))
    r = env.initialize('eKYC', language_config='zh', style_config=json.dumps({'primaryColor': '#8a1538'}))
    env.document_video()
    s = env.browser(lang='en-US')
    try:
        s.get(r.transaction_url)
        s.wait('the intro screen', lambda: s.screen() == 'intro')
        assert s.script('return document.documentElement.lang') == 'zh-CN'
        text = s.script('return document.body.innerText')
        assert re.search(r'[\u4e00-\u9fff]', text), f'no Chinese on the page: {text[:200]}'
        shown = [v for v in zh.values() if isinstance(v, str) and len(v) > 1 and v in text]
        assert len(shown) >= 2, f'the zh table\'s strings are not shown: {text[:300]}'
        shot(env, s, 'zh-intro', ['#start'])
        colour = s.script("return getComputedStyle(document.getElementById('start')).backgroundColor")
        assert colour == 'rgb(138, 21, 56)', f'the StyleConfig primaryColor is not applied: {colour}'
        # Keyboard: the start button is reachable with Tab and works with Enter.
        s.script("document.getElementById('start').focus()")
        assert s.script('return document.activeElement && document.activeElement.id') == 'start'
        s.keys('#start', '\ue007')
        s.wait('the document screen after Enter', lambda: s.screen() == 'doc', 20)
        text = s.script('return document.body.innerText')
        assert re.search(r'[\u4e00-\u9fff]', text), f'the document screen is not in Chinese: {text[:200]}'
        shot(env, s, 'zh-document', ['#capture'])
    finally:
        s.close()


@scenario
def camera_refused_or_missing(env: Env):
    """The page explains a refused permission and a missing camera; it offers the gallery only when allowed."""
    for camera, screen, album in (('deny', 'camera-denied', True), ('none', 'no-camera', False)):
        extra = {'show_album_icon': '1'} if album else {}
        r = env.initialize('eKYC', **extra)
        s = env.browser(camera=camera, width=1280, height=800)
        try:
            s.get(r.transaction_url)
            s.wait('the intro screen', lambda: s.screen() == 'intro')
            s.click('#start')
            s.wait(f'the {screen} screen', lambda: s.screen() == screen, 20)
            text = s.script('return document.body.innerText')
            assert len(text) > 40, f'{screen}: no explanation: {text!r}'
            shown = s.exists('#album-label') and s.displayed('#album-label')
            assert shown == album, f'{screen}: the gallery upload is shown={shown}, ShowAlbumIcon={album}'
            shot(env, s, f'desktop-{screen}', ['#heading'] + (['#album-label'] if album else []))
        finally:
            s.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--endpoint', required=True)
    ap.add_argument('--config', required=True)
    ap.add_argument('--idv', required=True)
    ap.add_argument('--shots', required=True)
    ap.add_argument('--work', default=None)
    ap.add_argument('--only', default=None)
    args = ap.parse_args()
    args.work = args.work or os.path.join(args.shots, 'work')
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
        if env.driver:
            env.driver.stop()
        env.returned.shutdown()
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
