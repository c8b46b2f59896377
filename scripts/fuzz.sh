#!/usr/bin/env bash
# Fuzzes every parser that takes untrusted bytes (fuzz/fuzz_targets/*.rs) on the stable toolchain, one after the other:
#   parse_verify   merchant request parsing + signature verification
#   meta_info      MetaInfo parsing and the usability check
#   device_bodies  device API request bodies (start, round)
#   client_config  client configuration tokens
#   image_header   image header probe and bounded decode
#   mrz_text       MRZ decoding and check-digit repair
#
#   FUZZ_SECONDS=60 scripts/fuzz.sh              # each target 60 s (default)
#   FUZZ_SECONDS=600 scripts/fuzz.sh mrz_text    # one target, longer
# Seeds: the six captured SDK requests of crates/idv-api/tests/fixtures/signature-vectors.json for parse_verify,
# small hand-written inputs (and the fetched test photos, when present) for the others, written into
# fuzz/corpus/<target>. Crashes land in fuzz/artifacts/<target>.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vectors="${SIGNATURE_VECTORS:-$root/crates/idv-api/tests/fixtures/signature-vectors.json}"
seconds="${FUZZ_SECONDS:-60}"
all=(parse_verify meta_info device_bodies client_config image_header mrz_text)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

seed() { # target name content
    mkdir -p "$root/fuzz/corpus/$1"
    printf '%s' "$3" >"$root/fuzz/corpus/$1/seed-$2"
}

mkdir -p "$root/fuzz/corpus/parse_verify"
if [[ -f "$vectors" ]]; then
    python3 - "$vectors" "$root/fuzz/corpus/parse_verify" <<'PY'
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
    echo "warning: $vectors not found; fuzzing parse_verify without seeds" >&2
fi
seed meta_info android '{"deviceType":"android","bioMetaInfo":"1.0.0:15,0","osVersion":"14","appName":"com.example"}'
seed meta_info web '{"deviceType":"web","bioMetaInfo":"1.0.0:15,0","ua":"Mozilla/5.0 (X11; Linux x86_64)"}'
seed device_bodies start '{"meta_info":"{}","device_time_ms":1700000000000}'
seed device_bodies round '{"round":2,"nonce":"00112233445566778899aabbccddeeff","step":"FACE","frames":[{"image":"iVBORw0KGgo=","t_ms":0}],"capture":{"source":"front","width":640,"height":480}}'
seed client_config token 'idv1.eyJ0aWQiOiIwMCJ9.AAAA'
# The ICAO 9303 specimen passport's zone (Part 4, Appendix A): public test text, fictional holder.
seed mrz_text td3 $'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10'
seed mrz_text td1 $'I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<'
mkdir -p "$root/fuzz/corpus/image_header"
for f in "$root"/testdata/faces/*; do
    [[ -f "$f" ]] || continue
    [[ $(stat -c %s "$f") -le 65536 ]] && cp -- "$f" "$root/fuzz/corpus/image_header/"
done

cd "$root/fuzz"
# -s none: no sanitizer, so the stable toolchain works; Rust code is memory-safe and the targets hunt panics.
cargo fuzz build -s none
for t in "${targets[@]}"; do
    echo "== fuzz $t (${seconds}s)" >&2
    mkdir -p "corpus/$t"
    cargo fuzz run "$t" -s none "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048
done
