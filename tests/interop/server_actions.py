#!/usr/bin/env python3
"""The server-only actions through Alibaba Cloud's official cloudauth-intl Python SDK as a real client:
EkycVerify(V2), FaceCrossCompareIntl, KeepaliveIntl and the V2 variants of the served actions, with real photos.

    .venv/bin/python tests/interop/server_actions.py --endpoint 127.0.0.1:PORT --config actions.json [--only NAME]

actions.json (written by crates/idv/tests/it/server_actions.rs):
    {"ak_id": "...", "ak_secret": "...",
     "ekyc": [{"who": "...", "doc": PATH, "same": PATH, "stranger": PATH, "tampered": PATH}, ...],
     "people": {"name": [PATH, PATH, PATH], ...}}

Prints `PASS <name>` or `FAIL <name>: <details>` per scenario, then `N passed, M failed`; exits 1 if any failed.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import secrets
import sys
import traceback

from alibabacloud_cloudauth_intl20220809 import models as m
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

ANDROID_META = json.dumps({'appName': 'com.example.app', 'appVersion': '1.0.0', 'bioMetaInfo': '1.0.0:15,0',
                           'deviceModel': 'Pixel 7', 'deviceType': 'android', 'osVersion': '14'},
                          separators=(',', ':'))
THRESHOLD = 70.0  # the engine's calibrated FaceComparisonScore threshold (docs: FaceCompare)


def b64(path: str) -> str:
    with open(path, 'rb') as f:
        return base64.b64encode(f.read()).decode()


def biz_id() -> str:
    return 'sa' + secrets.token_hex(10)


class T:
    """One scenario run: collects failures instead of stopping at the first."""

    def __init__(self, env):
        self.env, self.failures = env, []

    def check(self, cond, label, detail) -> bool:
        if not cond:
            self.failures.append(f'{label}: {detail}')
        return bool(cond)

    def client(self) -> Client:
        return Client(Config(access_key_id=self.env['ak_id'], access_key_secret=self.env['ak_secret'],
                             endpoint=self.env['endpoint'], protocol='HTTP', read_timeout=60000,
                             connect_timeout=5000))

    def ok(self, label, call):
        try:
            resp = call()
        except Exception as e:  # noqa: BLE001 - any exception is a failure to report
            self.check(False, label, f'expected success, got {type(e).__name__}: {e}')
            return None
        body = resp.body
        good = self.check(body.code == 'Success' and body.message == 'success' and body.request_id, label,
                          f'envelope {body.code!r}/{body.message!r}/{body.request_id!r}')
        return body.result if good else None

    def err(self, label, call, code, status, mentions=()):
        try:
            call()
        except ClientException as e:
            msg = (e.data or {}).get('Message') or ''
            self.check(e.code == code and e.status_code == status, label,
                       f'expected {code}/{status}, got {e.code}/{e.status_code}: {msg}')
            for want in mentions:
                self.check(want.lower() in msg.lower(), label, f'{want!r} not named in {msg!r}')
            return msg
        except Exception as e:  # noqa: BLE001
            self.check(False, label, f'expected ClientException {code}, got {type(e).__name__}: {e}')
            return None
        self.check(False, label, f'expected {code}/{status}, the call succeeded')
        return None


def ext(result, field) -> dict:
    return json.loads(getattr(result, field))


def ekyc_request(doc, face, v2=False, **over):
    fields = dict(product_code='eKYC_MIN', merchant_biz_id=biz_id(), merchant_user_id='u1', doc_type='GLB03002',
                  id_ocr_picture_base_64=b64(doc), face_picture_base_64=b64(face))
    fields.update(over)
    cls = m.EkycVerifyV2Request if v2 else m.EkycVerifyRequest
    return cls(**{k: v for k, v in fields.items() if v is not None})


# ---------------------------------------------------------------------------------------------- scenarios

def s_ekyc_verify(t: T):
    """The holder passes with their document; a stranger fails 204; a tampered document fails 201; DocNo and
    DocName are held against the reading."""
    c = t.client()
    for case in t.env['ekyc']:
        who = case['who']
        r = t.ok(f'{who} genuine', lambda: c.ekyc_verify(ekyc_request(case['doc'], case['same'])))
        if r is None:
            continue
        t.check((r.passed, r.sub_code) == ('Y', '200'), f'{who} genuine', f'{r.passed}/{r.sub_code}')
        t.check(len(r.transaction_id or '') == 32, f'{who} genuine', f'TransactionId {r.transaction_id!r}')
        ident, face = ext(r, 'ext_id_info'), ext(r, 'ext_face_info')
        t.check(ident.get('ocrIdPassed') == 'Y', f'{who} genuine', f'ExtIdInfo {ident}')
        t.check(face.get('facePassed') == 'Y' and face.get('faceComparisonScore', 0) >= THRESHOLD,
                f'{who} genuine', f'ExtFaceInfo {face}')
        t.check('faceAttack' not in face, f'{who} genuine', 'a liveness claim from one still picture')
        number = ident.get('ocrIdInfo', {}).get('passportNo', '')
        r = t.ok(f'{who} DocNo', lambda: c.ekyc_verify(ekyc_request(case['doc'], case['same'], doc_no=number)))
        t.check(r is not None and r.sub_code == '200', f'{who} DocNo', r and r.sub_code)
        r = t.ok(f'{who} wrong DocNo',
                 lambda: c.ekyc_verify(ekyc_request(case['doc'], case['same'], doc_no='X0000000')))
        t.check(r is not None and (r.passed, r.sub_code) == ('N', '201'), f'{who} wrong DocNo', r and r.sub_code)

        r = t.ok(f'{who} stranger', lambda: c.ekyc_verify(ekyc_request(case['doc'], case['stranger'])))
        if r is not None:
            face = ext(r, 'ext_face_info')
            t.check((r.passed, r.sub_code) == ('N', '204'), f'{who} stranger', f'{r.passed}/{r.sub_code} {face}')
            t.check(face.get('faceComparisonScore', 100) < THRESHOLD, f'{who} stranger', f'{face}')
        r = t.ok(f'{who} tampered', lambda: c.ekyc_verify(ekyc_request(case['tampered'], case['same'])))
        if r is not None:
            t.check((r.passed, r.sub_code) == ('N', '201'), f'{who} tampered', f'{r.passed}/{r.sub_code}')
            t.check(ext(r, 'ext_id_info').get('ocrIdPassed') == 'N', f'{who} tampered', r.ext_id_info[:200])


def s_ekyc_refusals(t: T):
    """What idv cannot check is refused by name, never passed unchecked."""
    c = t.client()
    case = t.env['ekyc'][0]
    for field, value, name in [('authorize', 'T', 'Authorize'), ('id_spoof', 'Y', 'IdSpoof'),
                               ('product_code', 'eKYC_PRO', 'ProductCode')]:
        t.err(name, lambda: c.ekyc_verify(ekyc_request(case['doc'], case['same'], **{field: value})),
              'InvalidParameter', 400, [name])
    t.err('FacePictureUrl', lambda: c.ekyc_verify(ekyc_request(
        case['doc'], case['same'], face_picture_base_64=None, face_picture_url='https://x.example/f.jpg')),
        'InvalidParameter', 400, ['FacePictureUrl'])


def s_ekyc_verify_v2(t: T):
    """EkycVerifyV2 takes the same Base64 pictures; its *File fields (OSS objects) are refused by name."""
    c = t.client()
    case = t.env['ekyc'][0]
    r = t.ok('v2', lambda: c.ekyc_verify_v2(ekyc_request(case['doc'], case['same'], v2=True)))
    t.check(r is not None and (r.passed, r.sub_code) == ('Y', '200'), 'v2', r and r.sub_code)
    r = t.ok('v2 stranger', lambda: c.ekyc_verify_v2(ekyc_request(case['doc'], case['stranger'], v2=True)))
    t.check(r is not None and r.sub_code == '204', 'v2 stranger', r and r.sub_code)
    t.err('FacePictureFile', lambda: c.ekyc_verify_v2(ekyc_request(
        case['doc'], case['same'], v2=True, face_picture_base_64=None,
        face_picture_file='http://bucket.oss.example/obj.jpg')), 'InvalidParameter', 400, ['FacePictureFile'])


def s_advance_upload(t: T):
    """The SDK's *Advance methods first ask the open platform for an OSS upload grant (AuthorizeFileUpload,
    2019-12-19); pointed at idv, that first call is refused, so no picture is ever sent anywhere unseen."""
    c = t.client()
    c._open_platform_endpoint = t.env['endpoint']  # where the SDK would otherwise ask the vendor
    case = t.env['ekyc'][0]
    with open(case['same'], 'rb') as f:
        face = io.BytesIO(f.read())
    req = m.EkycVerifyV2AdvanceRequest(product_code='eKYC_MIN', merchant_biz_id=biz_id(), doc_type='GLB03002',
                                       id_ocr_picture_base_64=b64(case['doc']), face_picture_file_object=face)
    t.err('advance', lambda: c.ekyc_verify_v2advance(req, RuntimeOptions()), 'InvalidVersion', 400,
          ['Version', '2022-08-09'])


def cross(c, faces, **over):
    pics = dict(zip(['source_aface_picture', 'source_bface_picture', 'source_cface_picture'], map(b64, faces)))
    fields = dict(product_code='FACE_CROSS_COMPARE', merchant_biz_id=biz_id(), **pics)
    fields.update(over)
    return c.face_cross_compare_intl(m.FaceCrossCompareIntlRequest(**fields))


def s_cross_compare(t: T):
    """Three photos of each of five people: every pair scores above the threshold; strangers below."""
    c = t.client()
    people = t.env['people']
    for name, faces in people.items():
        r = t.ok(name, lambda: cross(c, faces))
        if r is None:
            continue
        scores = [r.face_comparison_score_a2b, r.face_comparison_score_b2c, r.face_comparison_score_c2a]
        t.check(all(s is not None and s >= THRESHOLD for s in scores) and r.face_passed == 'Y', name,
                f'{scores} {r.face_passed}')
    names = sorted(people)
    for a, b in zip(names, names[1:] + names[:1]):
        r = t.ok(f'{a}/{b}', lambda: cross(c, [people[a][0], people[b][1]]))
        if r is not None:
            t.check(r.face_comparison_score_a2b < THRESHOLD and r.face_passed == 'N'
                    and r.face_comparison_score_b2c is None, f'{a}/{b}', f'{r.face_comparison_score_a2b}')
    same = people[names[0]]
    r = t.ok('threshold', lambda: cross(c, same[:2], face_verify_threshold='100'))
    t.check(r is not None and r.face_passed == 'N', 'threshold 100', r and r.face_passed)
    t.err('FaceVerifyThreshold', lambda: cross(c, same[:2], face_verify_threshold='0.5'), 'InvalidParameter', 400,
          ['FaceVerifyThreshold'])
    t.err('one face', lambda: cross(c, same[:1]), 'MissingParameter', 400, ['SourceBFacePicture'])


def s_keepalive(t: T):
    r = t.ok('keepalive', lambda: t.client().keepalive_intl())
    t.check(r is not None and r.result == 'SUCCESS', 'keepalive', r and r.result)


def s_v2_variants(t: T):
    """FaceCompareV2, FaceLivenessV2, DocOcrV2 and InitializeV2 answer as their first versions do."""
    c = t.client()
    case, people = t.env['ekyc'][0], t.env['people']
    a, b = people[sorted(people)[0]][:2]
    r = t.ok('FaceCompareV2', lambda: c.face_compare_v2(m.FaceCompareV2Request(
        merchant_biz_id=biz_id(), source_face_picture=b64(a), target_face_picture=b64(b))))
    t.check(r is not None and r.passed == 'Y' and r.face_comparison_score >= THRESHOLD, 'FaceCompareV2',
            r and r.face_comparison_score)
    t.err('FaceCompareV2 file', lambda: c.face_compare_v2(m.FaceCompareV2Request(
        source_face_picture_file='http://bucket.oss.example/a.jpg', target_face_picture=b64(b))),
        'InvalidParameter', 400, ['SourceFacePictureFile'])
    r = t.ok('FaceLivenessV2', lambda: c.face_liveness_v2(m.FaceLivenessV2Request(
        product_code='FACE_LIVENESS_MIN_PRO', merchant_biz_id=biz_id(), face_picture_base_64=b64(a))))
    t.check(r is not None and (r.passed, r.sub_code) == ('N', '210'), 'FaceLivenessV2', r and r.sub_code)
    t.err('FaceLivenessV2 file', lambda: c.face_liveness_v2(m.FaceLivenessV2Request(
        product_code='FACE_LIVENESS_MIN_PRO', face_picture_file='http://bucket.oss.example/a.jpg')),
        'InvalidParameter', 400, ['FacePictureFile'])
    r = t.ok('DocOcrV2', lambda: c.doc_ocr_v2(m.DocOcrV2Request(
        product_code='ID_OCR_MIN', doc_type='GLB03002', merchant_biz_id=biz_id(),
        id_ocr_picture_base_64=b64(case['doc']))))
    t.check(r is not None and (r.passed, r.sub_code) == ('Y', '200'), 'DocOcrV2', r and r.sub_code)
    r = t.ok('DocOcrV2 tampered', lambda: c.doc_ocr_v2(m.DocOcrV2Request(
        product_code='ID_OCR_MIN', doc_type='GLB03002', id_ocr_picture_base_64=b64(case['tampered']))))
    t.check(r is not None and r.sub_code == '201', 'DocOcrV2 tampered', r and r.sub_code)
    init = dict(product_code='eKYC', merchant_biz_id=biz_id(), merchant_user_id='u1', meta_info=ANDROID_META,
                doc_type='01000000', model='LIVENESS')
    r = t.ok('InitializeV2', lambda: c.initialize_v2(m.InitializeV2Request(**init)))
    t.check(r is not None and len(r.transaction_id or '') == 32 and r.client_cfg, 'InitializeV2', r)
    if r is not None:
        t.err('CheckResult', lambda: c.check_result(m.CheckResultRequest(
            merchant_biz_id=init['merchant_biz_id'], transaction_id=r.transaction_id)), 'ProcessNotCompleted', 404)
    t.err('InitializeV2 file', lambda: c.initialize_v2(m.InitializeV2Request(
        **init, face_picture_file='http://bucket.oss.example/a.jpg')), 'InvalidParameter', 400, ['FacePictureFile'])


SCENARIOS = {
    'ekyc_verify': s_ekyc_verify,
    'ekyc_refusals': s_ekyc_refusals,
    'ekyc_verify_v2': s_ekyc_verify_v2,
    'advance_upload': s_advance_upload,
    'cross_compare': s_cross_compare,
    'keepalive': s_keepalive,
    'v2_variants': s_v2_variants,
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--endpoint', required=True)
    ap.add_argument('--config', required=True)
    ap.add_argument('--only', action='append', metavar='NAME')
    args = ap.parse_args(argv)
    with open(args.config) as f:
        env = json.load(f)
    env['endpoint'] = args.endpoint
    passed = failed = 0
    for name, fn in SCENARIOS.items():
        if args.only and name not in args.only:
            continue
        t = T(env)
        try:
            fn(t)
        except Exception:  # noqa: BLE001 - a crash is a failure of that scenario
            t.failures.append(traceback.format_exc())
        if t.failures:
            failed += 1
            print(f'FAIL {name}: ' + '; '.join(t.failures))
        else:
            passed += 1
            print(f'PASS {name}')
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
