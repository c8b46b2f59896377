#!/usr/bin/env python3
"""Browser tests of the merchant console (/console/): headless Chromium over WebDriver (tests/web/webdriver.py) on a
server that already holds transactions, the merchant side played by the official Alibaba Cloud Python SDK.

    .venv/bin/python tests/console/console_flow.py --endpoint 127.0.0.1:PORT --config console.json --shots DIR

console.json (written by crates/idv/tests/it/console_flow.rs, which starts the server and runs the flows):
{"reviewer": {"username", "password"}, "ak_id", "ak_secret", "passed": TID, "failed": TID, "foreign": TID}.
Prints `PASS <name>` / `FAIL <name>: <why>` per scenario, then `N passed, M failed`; exit 1 on failures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import urllib.request

from alibabacloud_cloudauth_intl20220809 import models as m
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_tea_openapi.models import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'web'))
from webdriver import Chromedriver, Session, WebDriverError  # noqa: E402

SCENARIOS = []


def scenario(f):
    SCENARIOS.append(f)
    return f


class Env:
    def __init__(self, args):
        self.cfg = json.load(open(args.config))
        self.base = f'http://{args.endpoint}'
        self.shots = args.shots
        os.makedirs(self.shots, exist_ok=True)
        for k in list(os.environ):
            if k.lower() in ('http_proxy', 'https_proxy', 'all_proxy'):
                del os.environ[k]
        self.client = Client(Config(access_key_id=self.cfg['ak_id'], access_key_secret=self.cfg['ak_secret'],
                                    endpoint=args.endpoint, protocol='HTTP'))
        self.driver = Chromedriver.start()
        self.s: Session = self.driver.session(fake_camera=None, width=1280, height=1600, camera='none')

    def go(self, path: str):
        self.s.get(self.base + path)

    def shot(self, name: str):
        self.s.screenshot(os.path.join(self.shots, f'{name}.png'))

    def check_result(self, tid: str, biz: str) -> dict:
        r = self.client.check_result(m.CheckResultRequest(merchant_biz_id=biz, transaction_id=tid))
        return r.body.result.to_map()


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def images_loaded(s: Session, css: str) -> list:
    """Every image matching css, with whether it loaded (complete with a size)."""
    return s.script(
        'return Array.from(document.querySelectorAll(arguments[0])).map(i => [i.id || i.alt, i.complete && i.naturalWidth > 0]);',
        css)


def wait_images(s: Session, css: str, at_least: int):
    def ok():
        imgs = images_loaded(s, css)
        return len(imgs) >= at_least and all(loaded for _, loaded in imgs) and imgs
    return s.wait(f'{css} loaded', ok, timeout=30)


def count(s: Session, css: str) -> int:
    return s.script('return document.querySelectorAll(arguments[0]).length;', css)


def text(s: Session, css: str) -> str:
    return s.script('const e = document.querySelector(arguments[0]); return e ? e.textContent : null;', css)


@scenario
def login_and_list(env: Env):
    env.go('/console/')
    env.s.wait('the login page', lambda: env.s.exists('#username'))
    env.shot('01-login')
    r = env.cfg['reviewer']
    env.s.keys('#username', r['username'])
    env.s.keys('#password', 'not the password')
    env.s.click('#login')
    env.s.wait('the refusal', lambda: env.s.exists('#login-error'))
    expect('Wrong user name or password' in env.s.text('#login-error'), 'a wrong password is refused')
    env.s.keys('#username', r['username'])
    env.s.keys('#password', r['password'])
    env.s.click('#login')
    env.s.wait('the list', lambda: env.s.exists('#transactions'))
    rows = env.s.script('return Array.from(document.querySelectorAll("#transactions tbody tr")).map(r => r.dataset.tid);')
    expect(env.cfg['passed'] in rows and env.cfg['failed'] in rows, f'both transactions listed: {rows}')
    expect(env.cfg['foreign'] not in rows, "another merchant's transaction is not listed")
    expect(env.s.text('#who').startswith(r['username']), 'the user is shown')
    env.shot('02-list')
    # Filters: failed only, then by MerchantBizId through the form.
    env.go('/console/?verdict=failed')
    rows = env.s.script('return Array.from(document.querySelectorAll("#transactions tbody tr")).map(r => r.dataset.tid);')
    expect(rows == [env.cfg['failed']], f'verdict=failed lists the failed one: {rows}')
    env.go('/console/?verdict=passed&subcode=200')
    rows = env.s.script('return Array.from(document.querySelectorAll("#transactions tbody tr")).map(r => r.dataset.tid);')
    expect(rows == [env.cfg['passed']], f'passed, 200: {rows}')
    env.shot('03-list-filtered')


def transaction_page(env: Env, tid: str, name: str) -> None:
    env.go(f'/console/tx/{tid}')
    env.s.wait('the transaction page', lambda: env.s.exists('#verdict'))
    expect(env.s.text('#tid') == tid, 'the page is of the transaction')
    # The document with its outline and MRZ box drawn over it.
    wait_images(env.s, '#doc_front-img', 1)
    expect(env.s.exists('#doc_front-overlay polygon.card'), 'the card outline is drawn')
    expect(env.s.exists('#doc_front-overlay polygon.mrz'), 'the MRZ box is drawn')
    mrz = text(env.s, '#doc_front-mrz-lines') or ''
    expect(mrz.count('\n') >= 1 and '<' in mrz, f'the MRZ lines are shown: {mrz!r}')
    expect(count(env.s, '#doc_front-fields tr') > 3, 'the fields are listed')
    expect(count(env.s, '#doc_front-checks tr') > 3, 'the checks are listed')
    # Portrait and selfie side by side with the score and threshold.
    wait_images(env.s, '#portrait-img, #selfie-img', 2)
    expect(float(env.s.text('#score')) > 0 and env.s.text('#threshold') == '70', 'score and threshold shown')
    # The liveness filmstrip with the action timeline.
    frames = wait_images(env.s, '#filmstrip img', 3)
    expect(len(frames) >= 3, f'a filmstrip: {frames}')
    expect(env.s.exists('#timeline circle.seen') and env.s.exists('#timeline path.cue'), 'asked and seen drawn')
    expect(count(env.s, '#actions tr') >= 2, 'the actions are listed')
    for section in ['#device', '#rounds-table', '#callbacks', '#reasons', '#delete-form']:
        expect(env.s.exists(section), f'{section} is on the page')
    expect(count(env.s, '#rounds-table tr') >= 3, 'the rounds are listed')
    env.shot(name)


@scenario
def a_passed_transaction(env: Env):
    transaction_page(env, env.cfg['passed'], '04-passed')
    expect(env.s.text('#passed') == 'Y' and env.s.text('#subcode') == '200', 'passed 200')
    expect('the same person' in env.s.text('#face-score'), 'the faces match')


@scenario
def a_failed_transaction(env: Env):
    transaction_page(env, env.cfg['failed'], '05-failed')
    expect(env.s.text('#passed') == 'N' and env.s.text('#subcode') == '204', 'failed 204')
    expect('not the same person' in env.s.text('#face-score'), 'the faces differ')


@scenario
def approve_from_the_review_queue(env: Env):
    tid = env.cfg['failed']
    env.go('/console/review')
    env.s.wait('the queue', lambda: env.s.exists('#transactions'))
    rows = env.s.script('return Array.from(document.querySelectorAll("#transactions tbody tr")).map(r => r.dataset.tid);')
    expect(tid in rows and env.cfg['passed'] not in rows, f'the failure is queued, the pass is not: {rows}')
    env.shot('06-review-queue')
    env.go(f'/console/tx/{tid}')
    biz = env.s.text('#biz')
    before = env.check_result(tid, biz)
    expect('review' not in json.loads(before['ExtInfo']), 'no review before the decision')
    env.s.click('#approve')
    env.s.keys('#reason', 'Same person: the document photo is ten years old.')
    env.shot('07-decide')
    env.s.click('#submit-review')
    env.s.wait('the review record', lambda: env.s.exists('#review-decision'))
    expect(env.s.text('#review-decision') == 'approved', 'approved')
    env.shot('08-reviewed')
    after = env.check_result(tid, biz)
    review = json.loads(after['ExtInfo']).get('review')
    expect(review and review['decision'] == 'approved', f'CheckResult shows the review: {after["ExtInfo"]}')
    expect(review['reason'].startswith('Same person') and review['reviewer'] == env.cfg['reviewer']['username'], review)
    expect(review['automaticVerdict'] == {'passed': 'N', 'subCode': '204'}, review)
    expect(after['Passed'] == 'N' and after['SubCode'] == '204', 'the automatic verdict stands next to it')
    env.go('/console/review')
    rows = env.s.script('return Array.from(document.querySelectorAll("#transactions tbody tr")).map(r => r.dataset.tid);')
    expect(tid not in rows, 'a reviewed transaction leaves the queue')


@scenario
def another_merchants_transaction_by_url(env: Env):
    tid = env.cfg['foreign']
    env.go(f'/console/tx/{tid}')
    env.s.wait('the answer', lambda: env.s.exists('#not-found'))
    expect(not env.s.exists('#verdict') and tid not in env.s.script('return document.body.innerText;'),
           'nothing of it is shown')
    env.shot('09-foreign')
    env.go(f'/console/tx/{tid}/image/face')
    kind = env.s.script('return document.contentType;')
    expect(not kind.startswith('image/'), f'its picture is not served: {kind}')


@scenario
def summary_charts(env: Env):
    env.go('/console/summary')
    env.s.wait('the summary', lambda: env.s.exists('#pass-rate'))
    for chart in ['#pass-rate', '#failures', '#dropoff', '#step-time']:
        expect(env.s.exists(chart), f'{chart} drawn')
    expect(env.s.exists('#pass-rate circle.day'), 'today has a pass rate')
    expect('204' in text(env.s, '#failures'), 'the face mismatch is a failure reason')
    expect('FACE' in text(env.s, '#step-time') and 'DOC_FRONT' in text(env.s, '#step-time'), 'time per step')
    env.shot('10-summary')


@scenario
def no_script_and_a_strict_policy(env: Env):
    # The page runs no script of its own, and the policy would refuse one.
    env.go('/console/')
    n = env.s.script('return document.scripts.length;')
    expect(n == 0, f'no script elements: {n}')
    with urllib.request.urlopen(env.base + '/console/login') as r:
        csp = r.headers['content-security-policy']
    expect("default-src 'none'" in csp and 'script-src' not in csp and 'unsafe' not in csp, csp)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument('--endpoint', required=True)
    p.add_argument('--config', required=True)
    p.add_argument('--shots', required=True)
    args = p.parse_args()
    env = Env(args)
    passed = failed = 0
    try:
        for f in SCENARIOS:
            try:
                f(env)
                print(f'PASS {f.__name__}', flush=True)
                passed += 1
            except (AssertionError, WebDriverError) as e:
                failed += 1
                print(f'FAIL {f.__name__}: {e}', flush=True)
                traceback.print_exc()
                try:
                    env.shot(f'fail-{f.__name__}')
                except WebDriverError:
                    pass
    finally:
        env.s.close()
        env.driver.stop()
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
