#!/usr/bin/env bash
# Everything the project needs on a fresh machine, idempotently: Debian packages, the Python environment used by
# the interop tests and benchmarks, and the model weights / test photos (pinned, sha256-checked).
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup-system.sh"
"$root/scripts/setup-python.sh"
"$root/scripts/fetch-assets.sh"
