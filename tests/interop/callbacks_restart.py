#!/usr/bin/env python3
"""Durable callbacks across a crash: the official SDK opens transactions whose CallbackUrl is down, they end
(DeleteVerifyResult cancels them), the server is SIGKILLed with the callbacks undelivered, the endpoint comes up,
the server restarts, and every callback arrives, once, signed with the merchant's callback secret.

    .venv/bin/python tests/interop/callbacks_restart.py --idv target/debug/idv --data DIR

Prints PASS/FAIL lines and exits 1 on failure.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

from alibabacloud_cloudauth_intl20220809 import models as m
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_tea_openapi.models import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
META = json.dumps({'bioMetaInfo': '1.0.0:15,0', 'deviceType': 'android', 'osVersion': '14'})


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def idv(binary, *args):
    out = subprocess.run([binary, *args], capture_output=True, text=True, env={**os.environ, 'IDV_ASSETS_DIR': ROOT})
    if out.returncode:
        raise SystemExit(f'idv {args[:3]} failed: {out.stderr[-1000:]}')
    return json.loads(out.stdout)


def serve(binary, data):
    p = subprocess.Popen([binary, 'serve', '--listen', '127.0.0.1:0', '--data', data, '--allow-private-callbacks',
                          '--callback-retry', '1s'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env={**os.environ, 'IDV_ASSETS_DIR': ROOT})
    return p, p.stdout.readline().strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--idv', required=True)
    ap.add_argument('--data', required=True)
    a = ap.parse_args()
    merchant = idv(a.idv, 'admin', 'merchant', 'create', '--data', a.data, '--name', 'Hooks', '--json')['MerchantId']
    key = idv(a.idv, 'admin', 'accesskey', 'create', '--data', a.data, '--merchant', merchant, '--json')
    secret = idv(a.idv, 'admin', 'merchant', 'callback-secret', '--data', a.data, '--merchant', merchant, '--json')['CallbackSecret']
    port = free_port()
    server, addr = serve(a.idv, a.data)
    client = Client(Config(access_key_id=key['AccessKeyId'], access_key_secret=key['AccessKeySecret'],
                           endpoint=addr, protocol='HTTP'))
    owed = []
    for i in range(3):
        biz = f'hook{i}{os.urandom(4).hex()}'
        r = client.initialize(m.InitializeRequest(product_code='FACE_LIVENESS', merchant_biz_id=biz, merchant_user_id='u1',
                                                  meta_info=META, model='LIVENESS', callback_token=f'tok{i}',
                                                  callback_url=f'http://127.0.0.1:{port}/hook?shop=1')).body.result
        client.delete_verify_result(m.DeleteVerifyResultRequest(transaction_id=r.transaction_id, delete_type='Img'))
        owed.append(r.transaction_id)
    # Each callback fails at least once against the closed port before the crash.
    deadline = time.time() + 20
    while time.time() < deadline:
        cbs = idv(a.idv, 'admin', 'callbacks', '--data', a.data, '--json')['Callbacks']
        if len(cbs) == 3 and all(c['Attempts'] >= 1 and c['State'] == 'pending' for c in cbs):
            break
        time.sleep(0.2)
    else:
        print(f'FAIL no failed attempt before the crash: {cbs}')
        return 1
    server.kill()  # SIGKILL: no shutdown path runs
    server.wait()

    got, lock = [], threading.Lock()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            sig = self.headers.get('x-idv-signature', '')
            parts = dict(p.split('=', 1) for p in sig.split(',') if '=' in p)
            mac = hmac.new(secret.encode(), f'GET\n{self.path}\n{parts.get("t", "")}'.encode(), hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(mac, parts.get('v1', ''))
            with lock:
                got.append((self.path, ok))
            self.send_response(200 if ok else 401)
            self.send_header('content-length', '0')
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.ThreadingHTTPServer(('127.0.0.1', port), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    server, addr = serve(a.idv, a.data)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            cbs = idv(a.idv, 'admin', 'callbacks', '--data', a.data, '--state', 'delivered', '--json')['Callbacks']
            if len(cbs) == 3:
                break
            time.sleep(0.3)
        time.sleep(1.5)  # a duplicate would arrive within a retry
        with lock:
            paths = list(got)
    finally:
        server.terminate()
        hook.shutdown()
    failures = []
    for tid in owed:
        mine = [(p, ok) for p, ok in paths if f'transactionId={tid}' in p]
        if len(mine) != 1:
            failures.append(f'{tid}: {len(mine)} deliveries')
            continue
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(mine[0][0]).query))
        if not mine[0][1]:
            failures.append(f'{tid}: the signature does not verify')
        if q.get('passed') != 'N' or q.get('subCode') != '208' or not q.get('callbackToken', '').startswith('tok') or q.get('shop') != '1':
            failures.append(f'{tid}: query {q}')
    if failures:
        print('FAIL ' + '; '.join(failures))
        return 1
    print('PASS callbacks_survive_sigkill: 3 owed, 3 delivered once each after the restart, all signed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
