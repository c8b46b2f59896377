#!/usr/bin/env python3
"""Face libraries through Alibaba Cloud's official cloudauth-intl Python SDK as a real client: AddFaceRecord,
QueryFaceRecord, DeleteFaceRecord(V2), ModifyFaceRecord (refused by name), QueryFaceGroup, ModifyFaceGroup,
DeleteFaceGroup, FaceDuplicationCheckIntl and FaceVerifyIntl, with real photos of five people.

    .venv/bin/python tests/interop/face_library.py --endpoint 127.0.0.1:PORT --config faces.json

faces.json (written by crates/idv/tests/it/face_library_sdk.rs):
    {"ak_id": "...", "ak_secret": "...", "other_ak_id": "...", "other_ak_secret": "...",
     "people": {"name": [PATH, PATH], ...}, "stranger": PATH}

Prints `PASS <name>` or `FAIL <name>: <details>` per scenario, then `N passed, M failed`; exits 1 if any failed.
"""
from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import traceback

from alibabacloud_cloudauth_intl20220809 import models as m
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config


def b64(path: str) -> str:
    with open(path, 'rb') as f:
        return base64.b64encode(f.read()).decode()


def client(env, other=False) -> Client:
    pre = 'other_' if other else ''
    return Client(Config(access_key_id=env[pre + 'ak_id'], access_key_secret=env[pre + 'ak_secret'],
                         endpoint=env['endpoint'], protocol='HTTP', read_timeout=60000, connect_timeout=5000))


def dup_check(c: Client, user: str, picture: str, group: str, **kw):
    return c.face_duplication_check_intl(m.FaceDuplicationCheckIntlRequest(
        product_code='FACE_IDU_MIN', merchant_biz_id='fl' + secrets.token_hex(8), merchant_user_id=user,
        verify_model='1', face_group_codes=group, return_faces='1', source_face_picture=b64(picture), **kw)).body.result


def library(env, failures):
    c = client(env)
    group = 'g' + secrets.token_hex(6)
    people = env['people']
    for i, (name, photos) in enumerate(sorted(people.items())):
        r = c.add_face_record(m.AddFaceRecordRequest(product_code='FACE_ENROLL', face_group_code=group,
                                                     merchant_user_id=f'user-{i}', face_picture=b64(photos[0])))
        if r.body.result.passed != 'Y':
            failures.append(f'AddFaceRecord {name}: {r.body.to_map()}')
    # A second photo of each person, as a new account: found, with the first account's user id.
    for i, (name, photos) in enumerate(sorted(people.items())):
        res = dup_check(c, f'new-{i}', photos[1], group)
        dups = json.loads(res.duplicate_face or '[]')
        if res.sub_code != '211' or not dups or dups[0]['merchantUserId'] != f'user-{i}':
            failures.append(f'duplicate of {name}: {res.to_map()}')
    res = dup_check(c, 'stranger', env['stranger'], group)
    if res.sub_code != '200' or res.face_passed != 'Y' or json.loads(res.duplicate_face or '[]'):
        failures.append(f'stranger: {res.to_map()}')
    # FaceVerifyIntl 1:1 with a second picture, and 1:N identification.
    name, photos = sorted(people.items())[0]
    v = c.face_verify_intl(m.FaceVerifyIntlRequest(product_code='FACE_VERIFY_MIN', verify_model='0',
                                                   source_face_picture=b64(photos[0]),
                                                   target_face_picture=b64(photos[1]))).body.result
    if v.face_passed != 'Y' or float(v.face_comparison_score) < 70:
        failures.append(f'FaceVerifyIntl 1:1 {name}: {v.to_map()}')
    v = c.face_verify_intl(m.FaceVerifyIntlRequest(product_code='FACE_VERIFY_MIN', verify_model='1',
                                                   face_group_codes=group, return_faces='1',
                                                   source_face_picture=b64(photos[1]))).body.result
    if v.face_passed != 'Y' or json.loads(v.duplicate_face)[0]['merchantUserId'] != 'user-0':
        failures.append(f'FaceVerifyIntl 1:N {name}: {v.to_map()}')
    # Records: paged query, delete by id, delete by user.
    q = c.query_face_record(m.QueryFaceRecordRequest(face_group_code=group, current_page=1, page_size=3)).body
    if q.total_count != 5 or len(q.items) != 3 or q.total_page != 2:
        failures.append(f'QueryFaceRecord: {q.to_map()}')
    else:
        d = c.delete_face_record(m.DeleteFaceRecordRequest(id=str(q.items[0].id))).body
        if d.data != 1:
            failures.append(f'DeleteFaceRecord: {d.to_map()}')
    d2 = c.delete_face_record_v2(m.DeleteFaceRecordV2Request(merchant_user_id='user-4')).body.result
    if d2.deleted != 'Y' or d2.deleted_group_codes != group:
        failures.append(f'DeleteFaceRecordV2: {d2.to_map()}')
    q = c.query_face_record(m.QueryFaceRecordRequest(face_group_code=group, current_page=1, page_size=10)).body
    if q.total_count != 3:
        failures.append(f'after deletes: {q.to_map()}')
    try:
        c.modify_face_record(m.ModifyFaceRecordRequest(face_group_code=group, img_oss_infos='[]'))
        failures.append('ModifyFaceRecord was not refused')
    except ClientException as e:
        if 'ImgOssInfos' not in str(e):
            failures.append(f'ModifyFaceRecord refusal does not name ImgOssInfos: {e}')
    # Groups: query, rename, and another merchant sees nothing and deletes nothing.
    g = c.query_face_group(m.QueryFaceGroupRequest(group_code=group, current_page=1, page_size=10)).body
    if g.total_count != 1 or g.items[0].code != group:
        failures.append(f'QueryFaceGroup: {g.to_map()}')
        return
    gid = str(g.items[0].id)
    if c.modify_face_group(m.ModifyFaceGroupRequest(id=gid, name='Members', description='d')).body.data != 1:
        failures.append('ModifyFaceGroup')
    o = client(env, other=True)
    if o.query_face_group(m.QueryFaceGroupRequest(current_page=1, page_size=10)).body.total_count != 0:
        failures.append('another merchant sees a group')
    res = dup_check(o, 'x', sorted(people.items())[1][1][1], group)
    if res.sub_code != '200':
        failures.append(f'another merchant finds a face: {res.to_map()}')
    try:
        o.delete_face_group(m.DeleteFaceGroupRequest(id=gid))
        failures.append("another merchant deleted the group")
    except ClientException:
        pass
    if c.delete_face_group(m.DeleteFaceGroupRequest(id=gid)).body.data != 1:
        failures.append('DeleteFaceGroup')


SCENARIOS = {'face_library': library}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--endpoint', required=True)
    ap.add_argument('--config', required=True)
    args = ap.parse_args(argv)
    with open(args.config) as f:
        env = json.load(f)
    env['endpoint'] = args.endpoint
    passed = failed = 0
    for name, fn in SCENARIOS.items():
        failures = []
        try:
            fn(env, failures)
        except Exception:  # noqa: BLE001 - a crash is a failure of that scenario
            failures.append(traceback.format_exc())
        if failures:
            failed += 1
            print(f'FAIL {name}: ' + '; '.join(failures))
        else:
            passed += 1
            print(f'PASS {name}')
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
