#!/usr/bin/env bash
# Regenerates the mobile SDK's bindings from the library itself (UniFFI library mode), with the uniffi-bindgen
# built from this workspace (crate idv-mobile-bindgen), so the generated code matches the library's uniffi
# version exactly:
#
#   scripts/bindings.sh            # bindings/kotlin, bindings/swift, bindings/python (committed)
#   scripts/bindings.sh DIR        # the same into DIR (what the drift test compares)
#   scripts/bindings.sh --size     # also builds the shipped library (profile release-mobile) and prints its size
#
# Unformatted (--no-format): the output must not depend on which formatters a machine has.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bindings
size=0
for a in "$@"; do
  case "$a" in
    --size) size=1 ;;
    *) out="$a" ;;
  esac
done
cargo build -q -p idv-mobile --lib
cargo build -q -p idv-mobile-bindgen
lib=target/debug/libidv_mobile.so
for lang in kotlin swift python; do
  rm -rf "$out/$lang"
  target/debug/uniffi-bindgen generate --no-format --library "$lib" --language "$lang" --out-dir "$out/$lang" >/dev/null
done
echo "bindings written to $out/{kotlin,swift,python}"
if [ "$size" = 1 ]; then
  cargo build -q -p idv-mobile --lib --profile release-mobile
  so=target/release-mobile/libidv_mobile.so
  echo "$so: $(stat -c %s "$so") bytes (stripped: profile release-mobile)"
  size -A "$so"
fi
