#!/usr/bin/env bash
# Fuzzes request parsing + signature verification (fuzz/fuzz_targets/parse_verify.rs) on the stable toolchain.
#   FUZZ_SECONDS=60 scripts/fuzz.sh            # default 60 s
# Seeds: the six captured SDK requests of crates/idv-api/tests/fixtures/signature-vectors.json, written into fuzz/corpus/parse_verify
# in the target's input format. Crashes land in fuzz/artifacts/parse_verify.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vectors="${SIGNATURE_VECTORS:-$root/crates/idv-api/tests/fixtures/signature-vectors.json}"
corpus="$root/fuzz/corpus/parse_verify"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

mkdir -p "$corpus"
if [[ -f "$vectors" ]]; then
    python3 - "$vectors" "$corpus" <<'PY'
import hashlib, json, os, sys

vectors, corpus = sys.argv[1], sys.argv[2]
for v in json.load(open(vectors, encoding="utf-8")):
    # METHOD \n TARGET \n headers \n \n body: the format fuzz_targets/parse_verify.rs splits.
    head = [v["method"], v["raw_path"]] + ["%s: %s" % (n, val) for n, val in v["headers"]]
    data = ("\n".join(head) + "\n\n" + v["body"]).encode("utf-8")
    name = "seed-" + hashlib.sha1(data).hexdigest()
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(data)
PY
else
    echo "warning: $vectors not found; fuzzing without seeds" >&2
fi

cd "$root/fuzz"
# -s none: no sanitizer, so the stable toolchain works; Rust code is memory-safe and the target hunts panics.
exec cargo fuzz run parse_verify -s none -- -max_total_time="${FUZZ_SECONDS:-60}"
