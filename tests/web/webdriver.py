"""A minimal W3C WebDriver client (standard library only) for chromedriver: enough to drive the hosted page.

    driver = Chromedriver.start()                     # chromedriver on a free port
    s = driver.session(fake_camera='/abs/cam.y4m')  # headless Chromium, the file as its camera
    s.get(url); s.click('#start'); s.wait_attr('#app', 'data-screen', 'doc'); s.screenshot(path)
"""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = os.environ.get('IDV_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('IDV_CHROMEDRIVER', '/usr/bin/chromedriver')
ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'


class WebDriverError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def call(base: str, method: str, path: str, body=None, timeout=120):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={'content-type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b'{}').get('value')
    except urllib.error.HTTPError as e:
        raise WebDriverError(f'{method} {path}: HTTP {e.code}: {e.read()[:500]!r}') from None


class Chromedriver:
    def __init__(self, proc, base):
        self.proc, self.base = proc, base

    @classmethod
    def start(cls) -> 'Chromedriver':
        port = free_port()
        proc = subprocess.Popen([CHROMEDRIVER, f'--port={port}'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f'http://127.0.0.1:{port}'
        for _ in range(100):
            try:
                call(base, 'GET', '/status', timeout=2)
                return cls(proc, base)
            except (OSError, WebDriverError):
                time.sleep(0.1)
        proc.kill()
        raise WebDriverError('chromedriver did not start')

    def session(self, fake_camera: str | None, lang: str = 'en-US', width=412, height=915,
                camera: str = 'allow') -> 'Session':
        """A headless Chromium. `camera`: 'allow' (the file is the camera, permission granted), 'deny' (the user
        refuses the permission) or 'none' (no camera on the machine)."""
        profile = tempfile.mkdtemp(prefix='idv-chromium-')
        args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                f'--user-data-dir={profile}', f'--window-size={width},{height}', f'--lang={lang}',
                '--autoplay-policy=no-user-gesture-required']
        if camera == 'allow':
            args += ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
                     f'--use-file-for-fake-video-capture={fake_camera}']
        elif camera == 'deny':
            args += ['--use-fake-device-for-media-stream', '--deny-permission-prompts']
        else:
            args += ['--use-fake-ui-for-media-stream']
        caps = {'capabilities': {'alwaysMatch': {
            'browserName': 'chrome',
            'goog:chromeOptions': {'binary': CHROMIUM, 'args': args, 'prefs': {'intl.accept_languages': lang}},
        }}}
        value = call(self.base, 'POST', '/session', caps)
        return Session(self.base + '/session/' + value['sessionId'])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Session:
    def __init__(self, base: str):
        self.base = base

    def _call(self, method, path, body=None):
        return call(self.base, method, path, body)

    def get(self, url: str):
        self._call('POST', '/url', {'url': url})

    def url(self) -> str:
        return self._call('GET', '/url')

    def find(self, css: str):
        v = self._call('POST', '/element', {'using': 'css selector', 'value': css})
        return v[ELEMENT]

    def exists(self, css: str) -> bool:
        v = self._call('POST', '/elements', {'using': 'css selector', 'value': css})
        return bool(v)

    def click(self, css: str):
        self._call('POST', f'/element/{self.find(css)}/click', {})

    def attr(self, css: str, name: str):
        return self._call('GET', f'/element/{self.find(css)}/attribute/{name}')

    def text(self, css: str) -> str:
        return self._call('GET', f'/element/{self.find(css)}/text')

    def displayed(self, css: str) -> bool:
        return bool(self._call('GET', f'/element/{self.find(css)}/displayed'))

    def script(self, js: str, *args):
        return self._call('POST', '/execute/sync', {'script': js, 'args': list(args)})

    def keys(self, css: str, text: str):
        self._call('POST', f'/element/{self.find(css)}/value', {'text': text})

    def screenshot(self, path: str) -> bytes:
        png = base64.b64decode(self._call('GET', '/screenshot'))
        with open(path, 'wb') as f:
            f.write(png)
        return png

    def wait(self, what: str, cond, timeout=60.0, every=0.2):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = cond()
                if last:
                    return last
            except WebDriverError as e:
                last = e
            time.sleep(every)
        raise WebDriverError(f'timed out after {timeout:.0f} s waiting for {what} (last: {last!r})')

    def screen(self) -> str:
        return self.script("const a = document.getElementById('app'); return a ? a.dataset.screen || '' : '';")

    def close(self):
        try:
            self._call('DELETE', '')
        except WebDriverError:
            pass
