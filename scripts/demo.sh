#!/usr/bin/env bash
# The README's "run" command: sets everything up, starts idv on the embedded defaults (SQLite + local blobs in a
# fresh data directory), activates a merchant, and plays the merchant server with the official Alibaba Cloud
# Python SDK against it. Leaves the data directory and the server log for inspection.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
cargo build --quiet -p idv
idv="$root/target/debug/idv"
data="${IDV_DEMO_DATA:-$root/data/demo}"
rm -rf "$data"
mkdir -p "$data"
log="$data/server.log"

"$idv" serve --listen 127.0.0.1:0 --data "$data" >"$data/server.out" 2>"$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s "$data/server.out" ]] && break; sleep 0.1; done
addr="$(head -n1 "$data/server.out")"
echo "idv server listening on $addr (data: $data)"

merchant="$("$idv" admin merchant create --data "$data" --name "Demo Merchant" --json)"
merchant_id="$(printf '%s' "$merchant" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["MerchantId"])')"
key="$("$idv" admin accesskey create --data "$data" --merchant "$merchant_id" --json)"
echo "merchant $merchant_id activated"

printf '%s' "$key" | .venv/bin/python examples/merchant_official_sdk.py --endpoint "$addr"

echo
echo "Where to look:"
echo "  server log:        $log"
echo "  metrics:           curl http://$addr/metrics   (while running)"
echo "  data directory:    $data (idv.sqlite3, blobs/, master.key)"
