"""A merchant server's two calls to idv through the official Alibaba Cloud SDK: only the endpoint changes.

Reads {"AccessKeyId": ..., "AccessKeySecret": ...} on stdin (as printed by `idv admin accesskey create --json`).
"""
import argparse
import json
import sys

from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_cloudauth_intl20220809 import models
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.exceptions import ClientException

parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True, help="host:port of the idv server")
args = parser.parse_args()
key = json.load(sys.stdin)

# The one difference from calling Alibaba Cloud: endpoint (and plain HTTP on loopback).
client = Client(Config(access_key_id=key["AccessKeyId"], access_key_secret=key["AccessKeySecret"],
                       endpoint=args.endpoint, protocol="HTTP"))

# MetaInfo comes from the idv client SDK on the phone (get_meta_info()); this is what it reports.
meta_info = json.dumps({"deviceType": "android", "bioMetaInfo": "1.0.0:15,0", "osVersion": "14",
                        "deviceModel": "Pixel 7", "appName": "com.example.shop", "appVersion": "2.3.0"})
init = client.initialize(models.InitializeRequest(
    product_code="eKYC", merchant_biz_id="order20261129001", merchant_user_id="user-8d41",
    meta_info=meta_info, doc_type="01000000", model="LIVENESS"))
result = init.body.result
print(f"Initialize: {init.body.code}  TransactionId={result.transaction_id}")
print(f"  Protocol/ClientCfg (signed, for the app): {result.protocol[:60]}...")

try:
    client.check_result(models.CheckResultRequest(merchant_biz_id="order20261129001",
                                                  transaction_id=result.transaction_id))
    print("CheckResult: unexpectedly completed")
except ClientException as e:
    print(f"CheckResult before the device flow ran: {e.code} (HTTP {e.status_code}) - as documented")

try:
    client.initialize(models.InitializeRequest(product_code="eKYC", merchant_biz_id="bad-id!",
                                               merchant_user_id="u", meta_info=meta_info, doc_type="01000000"))
except ClientException as e:
    print(f"Initialize with a bad MerchantBizId: {e.code}: {e.message.split(', ', 1)[-1]}")
