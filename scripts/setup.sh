#!/usr/bin/env bash
# Everything the project needs on a fresh machine, idempotently: Debian packages, the Python environment used by
# the interop tests and benchmarks, the model weights / test photos (pinned, sha256-checked) and a running
# throwaway PostgreSQL cluster for the PostgreSQL backend's tests.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup-system.sh"
"$root/scripts/setup-python.sh"
"$root/scripts/fetch-assets.sh"
"$root/scripts/pg.sh" start >/dev/null
