"""CheckResult through the official Alibaba Cloud SDK, as a merchant server does; prints the Result as JSON.

usage: check_result.py --endpoint HOST:PORT --transaction-id TID --biz-id BIZ [--return-image]
The AccessKey pair comes from the environment: IDV_AK_ID, IDV_AK_SECRET.
"""
import argparse
import json
import os

from alibabacloud_cloudauth_intl20220809 import models
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_tea_openapi.models import Config

p = argparse.ArgumentParser()
p.add_argument("--endpoint", required=True)
p.add_argument("--transaction-id", required=True)
p.add_argument("--biz-id", required=True)
p.add_argument("--return-image", action="store_true")
a = p.parse_args()
for k in list(os.environ):
    if k.lower() in ("http_proxy", "https_proxy", "all_proxy"):
        del os.environ[k]
client = Client(Config(access_key_id=os.environ["IDV_AK_ID"], access_key_secret=os.environ["IDV_AK_SECRET"],
                       endpoint=a.endpoint, protocol="HTTP"))
resp = client.check_result(models.CheckResultRequest(
    merchant_biz_id=a.biz_id, transaction_id=a.transaction_id, is_return_image="Y" if a.return_image else "N"))
print(json.dumps(resp.body.result.to_map()))
