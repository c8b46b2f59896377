#!/usr/bin/env bash
# The README's "run" command: sets everything up, starts idv on the embedded defaults (SQLite + local files in a
# fresh data directory), the example merchant server, and the phone simulator, and runs the whole verification
# flow three times: a genuine user, someone else holding the same passport, and an expired passport. Then the
# merchant reads a verdict through the official Alibaba Cloud Python SDK. Everything stays for inspection.
#
# `scripts/demo.sh --web` instead starts idv and the merchant demo and prints a link to open in a browser on this
# machine: the hosted web flow (document, then selfie with the camera), back to the merchant at the end.
set -euo pipefail
web=0
[[ "${1:-}" == "--web" ]] && web=1
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
cargo build --quiet -p idv
idv="$root/target/debug/idv"
export IDV_ASSETS_DIR="$root"
demo="${IDV_DEMO_DIR:-$root/data/demo}"
rm -rf "$demo"
mkdir -p "$demo"
data="$demo/data"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_addr() { for _ in $(seq 300); do [[ -s "$1" ]] && { head -n1 "$1"; return; }; sleep 0.1; done; echo "no address in $1" >&2; exit 1; }

"$idv" serve --test-mode --allow-private-callbacks --listen 127.0.0.1:0 --data "$data" >"$demo/server.out" 2>"$demo/server.log" &
pids+=($!)
idv_addr="$(wait_addr "$demo/server.out")"
echo "1. idv server on $idv_addr (data: $data)"

merchant_id="$("$idv" admin merchant create --data "$data" --name "Demo Shop" --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["MerchantId"])')"
key="$("$idv" admin accesskey create --data "$data" --merchant "$merchant_id" --json)"
ak="$(printf '%s' "$key" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["AccessKeyId"])')"
sk="$(printf '%s' "$key" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["AccessKeySecret"])')"
echo "2. merchant $merchant_id activated with AccessKey $ak"

# The key idv signs this merchant's callbacks with: the demo refuses callbacks it cannot verify.
cbsecret="$("$idv" admin merchant callback-secret --data "$data" --merchant "$merchant_id")"
IDV_MERCHANT_AK_SECRET="$sk" IDV_MERCHANT_CALLBACK_SECRET="$cbsecret" "$idv" merchant-demo --listen 127.0.0.1:0 --idv-endpoint "$idv_addr" --access-key-id "$ak" \
    >"$demo/merchant.out" 2>"$demo/merchant.log" &
pids+=($!)
merchant="http://$(wait_addr "$demo/merchant.out")"
echo "3. merchant server (idv merchant-demo) on $merchant"

if ((web)); then
    echo
    echo "Open in a browser on this machine (camera needed; a passport to show: $("$idv" specimen --out "$demo/documents" --kind td3 --seed 21 --set portrait=astronaut.png))"
    echo "  $merchant/web/start                      eKYC: document, then selfie"
    echo "  $merchant/web/start?product=FACE_LIVENESS  selfie only"
    echo "  $merchant/web/start?lang=zh              in Chinese"
    echo "Each visit starts a new verification; the page sends you back to the merchant at the end. Ctrl-C stops."
    wait
    exit 0
fi

valid="$("$idv" specimen --out "$demo/documents" --kind td3 --seed 21 --set portrait=astronaut.png --distortion phone)"
expired="$("$idv" specimen --out "$demo/documents" --kind td3 --seed 22 --set portrait=astronaut.png --validity expired)"
echo "4. synthetic passports rendered: $valid, $expired"

run() {
    echo
    echo "== $1"
    "$idv" device --merchant "$merchant" --doc-front "$2" --face-portrait "testdata/faces/$3" --json 2>"$demo/device-$4.log" | tee "$demo/app-$4.json"
    sed 's/^/   device: /' "$demo/device-$4.log"
}
run "a genuine user (the passport's holder takes the selfie)" "$valid" astronaut.png genuine
run "someone else with the same passport" "$valid" grace_hopper.jpg impostor
run "the holder with an expired passport" "$expired" astronaut.png expired

tid="$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["transactionId"])' "$demo/app-genuine.json")"
biz="$(grep -o "transaction_id=$tid merchant_biz_id=[A-Za-z0-9]*" "$demo/merchant.log" | head -n1 | sed 's/.*merchant_biz_id=//')"
echo
echo "== the merchant server's view of the genuine transaction (official SDK, CheckResult, images left out here)"
IDV_AK_ID="$ak" IDV_AK_SECRET="$sk" .venv/bin/python tests/interop/check_result.py --endpoint "$idv_addr" \
    --transaction-id "$tid" --biz-id "$biz" | .venv/bin/python -m json.tool

echo
echo "Where to look:"
echo "  $demo/server.log     idv server log (one line per request, RequestId, never a secret)"
echo "  $demo/merchant.log   the merchant server's log (full verdicts stay on the merchant's side)"
echo "  $demo/app-*.json     what the app received (no images, no scores)"
echo "  $demo/documents/     the synthetic passports and their ground truth"
echo "  $data                idv.sqlite3, blobs/ (sealed images), master.key"
