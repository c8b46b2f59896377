#!/usr/bin/env python3
"""Wire-compatibility test: Alibaba Cloud's official cloudauth-intl (API 2022-08-09) Python SDKs against idv.

    scripts/setup-python.sh        # once: <repo>/.venv with tests/interop/requirements.txt
    .venv/bin/python tests/interop/sdk_interop.py --endpoint 127.0.0.1:PORT --config keys.json [--only NAME]

keys.json (written by the Rust integration test):
    {"merchant_a": {"ak_id": "...", "ak_secret": "..."}, "merchant_b": {...}, "disabled": {...},
     "unknown_ak_id": "LTAI..."}

Prints `PASS <name>` or `FAIL <name>: <details>` per scenario (plus `INFO <name>: ...` notes), then
`N passed, M failed`; exits 1 if any scenario failed (2 on usage errors). `--list` shows the scenarios.

Pointing an official SDK at idv -- the merchant changes only the endpoint (and protocol, if idv serves plain HTTP):

    from alibabacloud_tea_openapi.models import Config
    from alibabacloud_cloudauth_intl20220809.client import Client
    from alibabacloud_cloudauth_intl20220809.models import InitializeRequest, CheckResultRequest

    client = Client(Config(access_key_id=AK_ID, access_key_secret=AK_SECRET,
                           endpoint='idv.internal:8080', protocol='HTTP'))   # default protocol is HTTPS
    res = client.initialize(InitializeRequest(product_code='eKYC', merchant_biz_id='order42',
                                              merchant_user_id='u1', meta_info=meta_info_from_app,
                                              doc_type='01000000', model='LIVENESS')).body.result
    # res.transaction_id, res.protocol, res.client_cfg -> app;  res.transaction_url -> browser (web MetaInfo)
    client.check_result(CheckResultRequest(merchant_biz_id='order42', transaction_id=res.transaction_id))

Default signing is ACS3-HMAC-SHA256 (headers x-acs-date / x-acs-signature-nonce / Authorization).
Config(signature_algorithm='v2') switches to the old RPC signature (HMAC-SHA1; Timestamp / SignatureNonce /
Signature in the query): tea-openapi's Client.call_api runs do_rpcrequest when signature_algorithm == 'v2'.
Errors (HTTP 4xx) surface as alibabacloud_tea_openapi.exceptions.ClientException with .code, .status_code,
.request_id and .data (the server's JSON; .message is "code: <status>, <Message> request id: <RequestId>");
any 4xx/5xx carrying the header x-acs-retry-after (ms > 0) becomes ThrottlingException(.retry_after).
The legacy aliyun-python-sdk-core (AcsClient + CommonRequest, RPC HMAC-SHA1) is covered by `legacy_core`.

Every request the tea-openapi SDK sends is recorded (DaraCore.do_action is wrapped), so the scenarios also
assert what went over the wire: the signature scheme of each variant, that a replayed request really is
byte-identical, that a shifted clock really shifted x-acs-date / Timestamp.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import sys
import time
import traceback

from alibabacloud_cloudauth_intl20220809 import models as m
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils import Utils as OpenApiUtils  # source of x-acs-date/Timestamp and nonces
from aliyunsdkcore.acs_exception.exceptions import ServerException as LegacyServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from darabonba.core import DaraCore  # DaraCore.do_action sends every tea-openapi request

API_VERSION = '2022-08-09'
V3, V2 = None, 'v2'  # Config.signature_algorithm: None -> ACS3-HMAC-SHA256 (default), 'v2' -> RPC HMAC-SHA1
TX_ID = re.compile(r'[0-9a-z]{32}')
UA = ('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) '
      'Chrome/124.0.0.0 Safari/537.36')
ANDROID_META = {'apdidToken': '', 'appName': 'com.example.app', 'appVersion': '1.0.0',
                'bioMetaInfo': '1.0.0:15,0', 'deviceModel': 'Pixel 7', 'deviceType': 'android',
                'osVersion': '14', 'zimVer': '1.0.0'}
WEB_META = {'bioMetaInfo': '1.0.0:15,0', 'deviceType': 'web', 'ua': UA}

# ProductCode -> the Initialize parameters a merchant following that product's docs sends besides the common ones.
PRODUCTS = {
    'eKYC': dict(doc_type='01000000', model='LIVENESS'),
    'eKYC_PRO': dict(doc_type='GLB03002', model='LIVENESS'),
    'ID_OCR': dict(doc_type='01000000'),
    'FACE_LIVENESS': dict(model='LIVENESS'),
}


def meta(base=ANDROID_META, **changes) -> str:
    """MetaInfo JSON as the client SDK produces it; a change to None drops that key."""
    d = {**base, **changes}
    return json.dumps({k: v for k, v in d.items() if v is not None}, separators=(',', ':'))


def biz_id() -> str:
    return 'it' + secrets.token_hex(10)  # letters + digits, 22 chars


def init_request(**over) -> m.InitializeRequest:
    """eKYC Initialize from an android app; keyword overrides win, an override of None drops the field."""
    fields = dict(product_code='eKYC', merchant_biz_id=biz_id(), merchant_user_id='user_' + secrets.token_hex(4),
                  meta_info=meta(), **PRODUCTS['eKYC'])
    fields.update(over)
    return m.InitializeRequest(**{k: v for k, v in fields.items() if v is not None})


# ---------------------------------------------------------------------------------------------- wire tap/patches

WIRE: list = []  # (method, query, headers, body) of every tea-openapi request since the scenario started
_send = DaraCore.do_action


def _recording_send(request, runtime_option=None):
    WIRE.append((request.method, dict(request.query or {}),
                 {k.lower(): v for k, v in (request.headers or {}).items()}, request.body))
    return _send(request, runtime_option)


DaraCore.do_action = staticmethod(_recording_send)


@contextlib.contextmanager
def patched_utils(**fns):
    """Replace static methods of alibabacloud_tea_openapi.utils.Utils (get_nonce, get_timestamp) for a block.
    tea-openapi's Client calls Utils.get_nonce() for x-acs-signature-nonce (V3) / SignatureNonce (V2) and
    Utils.get_timestamp() for x-acs-date (V3) / Timestamp (V2), always through the class attribute."""
    saved = {name: OpenApiUtils.__dict__[name] for name in fns}
    try:
        for name, fn in fns.items():
            setattr(OpenApiUtils, name, staticmethod(fn))
        yield
    finally:
        for name, old in saved.items():
            setattr(OpenApiUtils, name, old)


def acs_time(delta=dt.timedelta(0)) -> str:
    return (dt.datetime.now(dt.timezone.utc) + delta).strftime('%Y-%m-%dT%H:%M:%SZ')


def wire_nonce_and_date(req) -> tuple:
    _, query, headers, _ = req
    if 'authorization' in headers:
        return headers.get('x-acs-signature-nonce'), headers.get('x-acs-date')
    return query.get('SignatureNonce'), query.get('Timestamp')


def wire_scheme(req) -> str:
    _, query, headers, _ = req
    auth = headers.get('authorization', '')
    if auth.startswith('ACS3-HMAC-SHA256 ') and 'Signature' not in query:
        return 'ACS3'
    if not auth and query.get('SignatureMethod') == 'HMAC-SHA1' and query.get('Signature'):
        return 'RPC-V1'
    return f'unknown(auth={auth[:30]!r}, query keys={sorted(query)})'


# ---------------------------------------------------------------------------------------------- checking helpers

class T:
    """One scenario run: collects failures instead of stopping at the first, so a FAIL line says everything."""

    def __init__(self, env, sig):
        self.env, self.sig, self.failures, self.notes = env, sig, [], []

    def check(self, cond, label, detail) -> bool:
        if not cond:
            self.failures.append(f'{label}: {detail}')
        return bool(cond)

    def client(self, who='merchant_a', key=None) -> Client:
        """The official client for a test key (or an explicit (ak_id, ak_secret)), signing as the variant says."""
        ak_id, ak_secret = key or self.env.key(who)
        return Client(Config(access_key_id=ak_id, access_key_secret=ak_secret, endpoint=self.env.endpoint,
                             protocol='HTTP', read_timeout=15000, connect_timeout=5000,
                             signature_algorithm=self.sig))

    def ok(self, label, call):
        """call() must succeed with Code=Success / Message=success / a RequestId; returns the response or None."""
        try:
            resp = call()
        except Exception as e:  # noqa: BLE001 - any exception is a failure to report
            self.check(False, label, f'expected success, got {describe(e)}')
            return None
        body = resp.body
        ctype = {k.lower(): v for k, v in (resp.headers or {}).items()}.get('content-type', '')
        good = all([self.check(body.code == 'Success', label, f'Code {body.code!r} != "Success"'),
                    self.check(body.message == 'success', label, f'Message {body.message!r} != "success"'),
                    self.check(bool(body.request_id), label, 'empty RequestId'),
                    self.check(ctype.startswith('application/json'), label, f'Content-Type {ctype!r}')])
        return resp if good else None

    def err(self, label, call, code, status, mentions=()):
        """call() must raise ClientException(code, status) with the error-JSON contract; each item of mentions
        (a string, or a tuple of alternatives) must occur in the server's Message (case-insensitive)."""
        try:
            call()
        except ThrottlingException as e:
            self.check(False, label, f'expected {code}/{status}, got {describe(e)} (x-acs-retry-after was set)')
        except ClientException as e:
            msg = (e.data or {}).get('Message')
            self.check(e.code == code and e.status_code == status, label, f'expected {code}/{status}, got {describe(e)}')
            self.check(isinstance(msg, str) and msg, label, f'no Message in error body {e.data!r}')
            self.check(e.request_id and e.request_id != 'None', label, f'no RequestId in error body {e.data!r}')
            self.check('HostId' in (e.data or {}), label, f'no HostId in error body {e.data!r}')
            for want in mentions:
                alts = (want,) if isinstance(want, str) else want
                self.check(any(a.lower() in str(msg).lower() for a in alts), label,
                           f'Message {msg!r} does not mention {" or ".join(map(repr, alts))}')
            return e
        except Exception as e:  # noqa: BLE001
            self.check(False, label, f'expected ClientException {code}/{status}, got {describe(e)}')
        else:
            self.check(False, label, f'expected ClientException {code}/{status}, but the call succeeded')
        return None

    def initialize(self, client, label='Initialize', **over):
        """A successful Initialize; returns (MerchantBizId, TransactionId) or (MerchantBizId, None)."""
        req = init_request(**over)
        resp = self.ok(label, lambda: client.initialize(req))
        tx = resp.body.result.transaction_id if resp and resp.body.result else None
        if resp:
            self.check(isinstance(tx, str) and TX_ID.fullmatch(tx), label, f'TransactionId {tx!r} is not 32 [0-9a-z]')
        return req.merchant_biz_id, tx


def describe(e: BaseException) -> str:
    if isinstance(e, LegacyServerException):
        return f'legacy ServerException({e.get_error_code()!r}, {e.get_error_msg()!r}, http_status={e.get_http_status()})'
    if hasattr(e, 'status_code') and hasattr(e, 'data'):  # tea-openapi Client/Server/ThrottlingException
        extra = f', retry_after={e.retry_after}' if isinstance(e, ThrottlingException) else ''
        return f'{type(e).__name__}(code={e.code!r}, status={e.status_code}, data={e.data!r}{extra})'
    return f'{type(e).__module__}.{type(e).__name__}: {str(e)[:300]}'


def check_result(client, biz, tx):
    return lambda: client.check_result(m.CheckResultRequest(merchant_biz_id=biz, transaction_id=tx))


# ---------------------------------------------------------------------------------------------- scenarios

SCENARIOS: dict = {}  # name -> (fn, signature_algorithm, run by default)


def scenario(*sigs, default=True):
    """Register fn under its name for each signing variant: V3 -> `name`, V2 -> `name_v2`."""
    def register(fn):
        for sig in sigs or (V3,):
            SCENARIOS[fn.__name__ + ('_v2' if sig == V2 else '')] = (fn, sig, default)
        return fn
    return register


@scenario(V3, V2)
def init_ok(t: T):
    client, seen = t.client(), set()
    for product, params in PRODUCTS.items():
        req = init_request(product_code=product, **{**{'doc_type': None, 'model': None}, **params})
        resp = t.ok(product, lambda: client.initialize(req))
        if not resp:
            continue
        r = resp.body.result
        if not t.check(r is not None, product, 'no Result'):
            continue
        t.check(isinstance(r.transaction_id, str) and TX_ID.fullmatch(r.transaction_id), product,
                f'TransactionId {r.transaction_id!r} is not 32 [0-9a-z]')
        t.check(r.transaction_id not in seen, product, f'TransactionId {r.transaction_id} issued twice')
        seen.add(r.transaction_id)
        t.check(isinstance(r.protocol, str) and r.protocol, product, f'Protocol {r.protocol!r}')
        t.check(isinstance(r.client_cfg, str) and r.client_cfg, product, f'ClientCfg {r.client_cfg!r}')
        t.check(r.transaction_url is None, product, f'TransactionUrl {r.transaction_url!r} for an android MetaInfo')


@scenario()
def init_web(t: T):
    client = t.client()
    resp = t.ok('web+ua', lambda: client.initialize(init_request(meta_info=meta(WEB_META))))
    if resp and resp.body.result:
        r = resp.body.result
        url, tx = r.transaction_url, r.transaction_id
        t.check(isinstance(url, str) and re.match(r'https?://[^/\s]+', url) and tx and tx in url, 'web+ua',
                f'TransactionUrl {url!r} is not an http(s) URL containing TransactionId {tx!r}')
        t.check(isinstance(r.protocol, str) and r.protocol, 'web+ua', f'Protocol {r.protocol!r}')
    t.err('web without ua', lambda: client.initialize(init_request(meta_info=meta(WEB_META, ua=None))),
          'InvalidParameter', 400, ['MetaInfo'])


@scenario(V3, V2)
def check_not_completed(t: T):
    client = t.client()
    biz, tx = t.initialize(client)
    if tx:
        t.err('CheckResult', check_result(client, biz, tx), 'ProcessNotCompleted', 404)


# Initialize with a bad key: (scenario, key -> (ak_id, ak_secret), code, status, signing variants)
AUTH_ERRORS = [
    ('wrong_secret', lambda env: (env.key('merchant_a')[0], wrong(env.key('merchant_a')[1])),
     'SignatureDoesNotMatch', 400, (V3, V2)),
    ('disabled_key', lambda env: env.key('disabled'), 'InvalidAccessKeyId.Inactive', 403, (V3,)),
    ('unknown_key', lambda env: (env.unknown_ak_id, 'S' * 30), 'InvalidAccessKeyId.NotFound', 404, (V3,)),
]


def wrong(secret: str) -> str:
    return secret[:-1] + ('A' if secret[-1:] != 'A' else 'B')


def _auth_error(name, key, code, status):
    def run(t: T):
        client = t.client(key=key(t.env))
        t.err('Initialize', lambda: client.initialize(init_request()), code, status)
    run.__name__ = name
    return run


for _name, _key, _code, _status, _sigs in AUTH_ERRORS:
    scenario(*_sigs)(_auth_error(_name, _key, _code, _status))


@scenario(V3, V2)
def replayed_nonce(t: T):
    """The exact same signed request twice: nonce and date frozen, so every byte on the wire repeats."""
    client, req, nonce, date = t.client(), init_request(), secrets.token_hex(16), acs_time()
    with patched_utils(get_nonce=lambda: nonce, get_timestamp=lambda: date):
        t.ok('first', lambda: client.initialize(req))
        t.err('replay', lambda: client.initialize(req), 'SignatureNonceUsed', 400)
    sent = WIRE[-2:]
    t.check(len(sent) == 2 and sent[0] == sent[1], 'wire', 'the two requests differ on the wire (harness bug)')
    t.check(all(wire_nonce_and_date(r) == (nonce, date) for r in sent), 'wire',
            f'patched nonce/date not on the wire: {[wire_nonce_and_date(r) for r in sent]}')


@scenario(V3, V2)
def stale_date(t: T):
    """Client clock off by 20 min either way -> rejected; off by 5 min -> still inside the +-15 min window."""
    client = t.client()
    for minutes, ok in ((-20, False), (20, False), (-5, True), (5, True)):
        label, date = f'clock {minutes:+d} min', acs_time(dt.timedelta(minutes=minutes))
        with patched_utils(get_timestamp=lambda: date):
            if ok:
                t.ok(label, lambda: client.initialize(init_request()))
            else:
                t.err(label, lambda: client.initialize(init_request()), 'InvalidTimeStamp.Expired', 400)
        t.check(wire_nonce_and_date(WIRE[-1])[1] == date, label, f'date on the wire {wire_nonce_and_date(WIRE[-1])}')


# Initialize parameter validation: scenario -> [(label, InitializeRequest overrides, code, status, mentions)]
INIT_ERRORS = {
    'missing_merchant_biz_id': [
        ('absent', dict(merchant_biz_id=None), 'MissingParameter', 400, ['MerchantBizId'])],
    'bad_merchant_biz_id': [
        ('33 chars', dict(merchant_biz_id='b' * 33), 'InvalidParameter', 400, ['MerchantBizId']),
        ("contains '-'", dict(merchant_biz_id='order-42'), 'InvalidParameter', 400, ['MerchantBizId'])],
    'bad_meta_info': [
        ('not JSON', dict(meta_info='deviceType=android'), 'InvalidParameter', 400, ['MetaInfo']),
        ('deviceType symbian', dict(meta_info=meta(deviceType='symbian')), 'InvalidParameter', 400, ['deviceType']),
        ('SDK too old', dict(meta_info=meta(bioMetaInfo='0.1.0:15,0')), 'InvalidParameter', 400, ['version'])],
    'unsupported_product': [
        ('FACE_GUARD', dict(product_code='FACE_GUARD'), 'InvalidParameter', 400,
         [('ProductCode', 'not supported')])],
}


def _init_errors(name, cases):
    def run(t: T):
        client = t.client()
        for label, over, code, status, mentions in cases:
            t.err(label, lambda: client.initialize(init_request(**over)), code, status, mentions)
    run.__name__ = name
    return run


for _name, _cases in INIT_ERRORS.items():
    scenario()(_init_errors(_name, _cases))


@scenario(V3, V2)
def other_merchant(t: T):
    a, b = t.client('merchant_a'), t.client('merchant_b')
    biz, tx = t.initialize(a)
    if not tx:
        return
    t.err('owner sees it', check_result(a, biz, tx), 'ProcessNotCompleted', 404)
    foreign = t.err("merchant_b, merchant_a's id", check_result(b, biz, tx), 'TransactionIdInvalid', 400)
    never = t.err('merchant_b, never-issued id', check_result(b, biz, secrets.token_hex(16)), 'TransactionIdInvalid', 400)
    if foreign and never:
        t.check(foreign.data.get('Message') == never.data.get('Message'), 'no existence oracle',
                f'{foreign.data.get("Message")!r} != {never.data.get("Message")!r}')


@scenario(V3, V2)
def delete_verify_result(t: T):
    """DeleteVerifyResult through the official SDK: the transaction ends (it was open: cancelled), its evidence
    goes, CheckResult keeps answering with the decision and says the evidence was deleted; another merchant can
    neither delete nor read it; deleting again is harmless."""
    a, b = t.client(), t.client('merchant_b')
    biz, tx = t.initialize(a)
    if not tx:
        return
    req = lambda **kw: m.DeleteVerifyResultRequest(transaction_id=tx, **kw)  # noqa: E731
    t.err('other merchant deletes', lambda: b.delete_verify_result(req(delete_type='All')), 'TransactionIdInvalid', 400)
    for label in ('DeleteVerifyResult', 'again'):
        resp = t.ok(label, lambda: a.delete_verify_result(req(delete_type='All', delete_after_query='N')))
        if resp:
            r = resp.body.result
            t.check(r.delete_result == 'Y' and r.transaction_id == tx, label, f'DeleteResult {r.delete_result!r}')
    resp = t.ok('CheckResult after deletion', check_result(a, biz, tx))
    if resp:
        r = resp.body.result
        info = json.loads(r.ext_info or '{}')
        t.check(r.passed == 'N' and r.sub_code == '208', 'decision', f'{r.passed} {r.sub_code} (cancelled)')
        t.check(info.get('evidenceDeleted') == 'all', 'ExtInfo', f'{r.ext_info}')
        t.check(r.ext_face_info == '{}' and r.ext_id_info == '{}', 'evidence', 'Ext* objects are not empty')
    t.err('other merchant reads', check_result(b, biz, tx), 'TransactionIdInvalid', 400)


@scenario(V3, V2)
def check_verify_log(t: T):
    """CheckVerifyLog through the official SDK: a never-started transaction is status 0 on the LOADING page, its
    statistics are JSON; another merchant learns nothing."""
    a, b = t.client(), t.client('merchant_b')
    biz, tx = t.initialize(a)
    if not tx:
        return
    resp = t.ok('CheckVerifyLog', lambda: a.check_verify_log(m.CheckVerifyLogRequest(merchant_biz_id=biz, transaction_id=tx)))
    if resp:
        r = resp.body.result
        t.check(r.verify_status == '0' and r.interrupt_page_en == 'LOADING', 'not started',
                f'VerifyStatus {r.verify_status!r}, InterruptPageEn {r.interrupt_page_en!r}')
        t.check(isinstance(r.log_info_en, list) and r.log_info_en, 'LogInfoEn', f'{r.log_info_en!r}')
        stats = json.loads(r.log_statistics_info or 'null')
        t.check(isinstance(stats, dict) and stats.get('ocrOverTimes') == 0, 'LogStatisticsInfo', f'{r.log_statistics_info!r}')
    t.err('other merchant', lambda: b.check_verify_log(m.CheckVerifyLogRequest(transaction_id=tx)), 'TransactionIdInvalid', 400)


@scenario()
def legacy_core(t: T):
    """aliyun-python-sdk-core: AcsClient + CommonRequest, RPC HMAC-SHA1 signature, GET or POST."""
    ak_id, ak_secret = t.env.key('merchant_a')

    def call(action, params, method='POST', secret=ak_secret):
        req = CommonRequest(domain=t.env.endpoint, version=API_VERSION, action_name=action)
        req.set_method(method)
        req.set_protocol_type('http')
        for k, v in params.items():
            req.add_query_param(k, v)
        return AcsClient(ak_id, secret, 'ap-southeast-1', timeout=15, connect_timeout=5).do_action_with_exception(req)

    def init_params():
        return dict(ProductCode='eKYC', MerchantBizId=biz_id(), MerchantUserId='legacy user 1', MetaInfo=meta(),
                    DocType='01000000', Model='LIVENESS')

    def ok(label, *args, **kw):
        try:
            body = json.loads(call(*args, **kw))  # the legacy SDK returns the raw response bytes
        except Exception as e:  # noqa: BLE001
            t.check(False, label, f'expected success, got {describe(e)}')
            return None
        tx = (body.get('Result') or {}).get('TransactionId')
        good = all([t.check(body.get('Code') == 'Success' and body.get('Message') == 'success', label, f'body {body}'),
                    t.check(body.get('RequestId'), label, 'empty RequestId'),
                    t.check(isinstance(tx, str) and TX_ID.fullmatch(tx), label, f'TransactionId {tx!r}')])
        return tx if good else None

    def err(label, code, status, *args, **kw):
        try:
            call(*args, **kw)
        except LegacyServerException as e:
            t.check(e.get_error_code() == code and e.get_http_status() == status, label,
                    f'expected {code}/{status}, got {describe(e)}')
        except IndexError as e:  # aliyunsdkcore does message.split(':')[1] on every 400 SignatureDoesNotMatch
            t.check(False, label, f"SDK crashed with IndexError ({e}): the {code} Message must contain a ':'")
        except Exception as e:  # noqa: BLE001
            t.check(False, label, f'expected ServerException {code}/{status}, got {describe(e)}')
        else:
            t.check(False, label, f'expected ServerException {code}/{status}, but the call succeeded')

    params = init_params()
    tx = ok('POST Initialize', 'Initialize', params)
    if tx:
        err('CheckResult', 'ProcessNotCompleted', 404, 'CheckResult',
            dict(MerchantBizId=params['MerchantBizId'], TransactionId=tx))
    ok('GET Initialize', 'Initialize', init_params(), method='GET')
    err('wrong secret', 'SignatureDoesNotMatch', 400, 'Initialize', init_params(), secret=wrong(ak_secret))


@scenario(default=False)
def throttling(t: T):
    """Hammer Initialize from one key (bounded: 5000 calls / 60 s) until Throttling.User 429 + x-acs-retry-after."""
    client, n, start = t.client(), 0, time.monotonic()
    while n < 5000 and time.monotonic() - start < 60:
        try:
            client.initialize(init_request())
            n += 1
        except ThrottlingException as e:
            t.notes.append(f'{n} calls succeeded in {time.monotonic() - start:.1f}s before {e.code}/{e.status_code}, '
                           f'retry_after={e.retry_after} ms')
            t.check(e.code == 'Throttling.User' and e.status_code == 429, 'throttled', describe(e))
            t.check(e.retry_after and e.retry_after > 0, 'throttled', f'retry_after {e.retry_after!r}')
            t.check(n > 0, 'throttled', 'the very first call was throttled')
            if e.retry_after and 0 < e.retry_after <= 10_000:
                time.sleep(e.retry_after / 1000)
                t.ok('after waiting retry_after', lambda: client.initialize(init_request()))
            return
        except Exception as e:  # noqa: BLE001
            t.check(False, f'call {n + 1}', f'expected success or ThrottlingException, got {describe(e)}')
            return
    t.check(False, 'throttled', f'no ThrottlingException after {n} calls in {time.monotonic() - start:.1f}s')


# ---------------------------------------------------------------------------------------------- runner

class Env:
    def __init__(self, endpoint, cfg):
        self.endpoint, self.cfg, self.unknown_ak_id = endpoint, cfg, cfg['unknown_ak_id']

    def key(self, who):
        return self.cfg[who]['ak_id'], self.cfg[who]['ak_secret']


def run(env, name) -> list:
    fn, sig, _ = SCENARIOS[name]
    t = T(env, sig)
    del WIRE[:]
    try:
        fn(t)
    except Exception:  # noqa: BLE001 - a harness crash is a FAIL with its traceback, never a silent pass
        t.failures.append('harness error: ' + traceback.format_exc(limit=3).replace('\n', ' | '))
    want = 'RPC-V1' if sig == V2 else 'ACS3'
    bad = sorted({wire_scheme(r) for r in WIRE} - {want})
    t.check(not bad, 'wire', f'expected every request signed {want}, saw {bad}')
    return t.notes, t.failures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--endpoint', help='host:port of the idv server, e.g. 127.0.0.1:18080')
    ap.add_argument('--config', help='JSON file with the test keys')
    ap.add_argument('--only', action='append', metavar='NAME', help='run only this scenario (repeatable)')
    ap.add_argument('--list', action='store_true', help='list scenarios and exit')
    args = ap.parse_args(argv)
    if args.list:
        for name, (_, _, default) in SCENARIOS.items():
            print(name if default else f'{name}  (only with --only)')
        return 0
    if not args.endpoint or not args.config:
        ap.error('--endpoint and --config are required')
    unknown = [n for n in args.only or [] if n not in SCENARIOS]
    if unknown:
        ap.error(f'unknown scenario(s) {unknown}; known: {", ".join(SCENARIOS)}')
    with open(args.config) as f:
        cfg = json.load(f)
    env = Env(re.sub(r'^https?://', '', args.endpoint).rstrip('/'), cfg)
    for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        os.environ.pop(var, None)  # the SDKs pass proxies explicitly, bypassing NO_PROXY; the target is local
    names = args.only or [n for n, (_, _, default) in SCENARIOS.items() if default]
    passed = failed = 0
    for name in names:
        notes, failures = run(env, name)
        for note in notes:
            print(f'INFO {name}: {note}')
        if failures:
            failed += 1
            print(f'FAIL {name}: ' + '; '.join(failures).replace('\n', ' '))
        else:
            passed += 1
            print(f'PASS {name}')
        sys.stdout.flush()
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
