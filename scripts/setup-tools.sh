#!/usr/bin/env bash
# Test tools built from the Rust registry into target/tools, only when missing: s3s-fs, the S3-compatible server
# (over a directory, checking SigV4 signatures) the scale-out tests put blobs in. Pinned; --locked uses the
# crate's own lock file.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/target/tools"
S3S_FS_VERSION=0.14.1
if [[ ! -x "$tools/bin/s3s-fs" ]] || ! "$tools/bin/s3s-fs" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
    echo "setup-tools: building s3s-fs $S3S_FS_VERSION (a few minutes, once)" >&2
    cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked --root "$tools" --quiet
fi
