#!/usr/bin/env bash
# The whole test suite, set-up included: the README's test command, and what CI runs (.ci/run).
#   FUZZ_SECONDS=N  how long each fuzz target runs (default 15; 0 skips fuzzing)
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
echo "== format and lints" >&2
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== tests" >&2
mkdir -p .cache
cargo test --workspace --quiet 2>&1 | tee .cache/test-output.txt
# The merchant and device API tests again on the PostgreSQL backend (a fresh database per server). Skipped by
# name: the three that edit or copy the SQLite file itself (their PostgreSQL counterparts are in idv-store's tests).
echo "== API tests on PostgreSQL" >&2
IDV_TEST_BACKEND=postgres cargo test -p idv-server --test it --quiet -- \
    --skip a_transaction_moved_to_another_merchant_reveals_nothing \
    --skip the_expiry_sweep_goes_past_a_transaction_it_cannot_open \
    --skip the_retention_sweep_deletes_everything_but_the_decision_including_in_old_copies 2>&1 | tee -a .cache/test-output.txt
# The closing summary line for runners that read one (cargo prints one per test binary).
passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' .cache/test-output.txt | awk '{s+=$4} END {print s+0}')
fuzz="${FUZZ_SECONDS:-15}"
if [[ "$fuzz" != 0 ]]; then
    echo "== fuzz (${fuzz}s per target)" >&2
    FUZZ_SECONDS="$fuzz" scripts/fuzz.sh
fi
echo "all: $passed passed, 0 failed"
