#!/usr/bin/env bash
# The whole test suite, set-up included: the README's test command, and what CI runs (.ci/run).
#   FUZZ_SECONDS=N  how long each fuzz target runs (default 15; 0 skips fuzzing)
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Each phase says when it starts (seconds since the start), so a slow run shows where its time went.
phase() { echo "== $1 (at ${SECONDS}s)" >&2; }
scripts/setup.sh
phase "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
phase "tests"
mkdir -p .cache
: >.cache/test-output.txt
# cargo-nextest schedules the tests of every binary together on all cores (`.config/nextest.toml`); plain
# `cargo test` is the fallback where it is not installed (slower: one binary at a time).
run_tests() { # cargo selection args... [--skip=TEST_NAME ...]
    local args=() skips=() a
    for a in "$@"; do
        case "$a" in --skip=*) skips+=("${a#--skip=}") ;; *) args+=("$a") ;; esac
    done
    if cargo nextest --version >/dev/null 2>&1; then
        local filter=()
        if [[ ${#skips[@]} -gt 0 ]]; then
            local expr="" t
            for t in "${skips[@]}"; do expr+="${expr:+ | }test(/(^|::)${t}\$/)"; done
            filter=(-E "not ($expr)")
        fi
        cargo nextest run --cargo-quiet "${args[@]}" "${filter[@]}" 2>&1 | tee -a .cache/test-output.txt
    else
        local libtest=() t
        for t in "${skips[@]}"; do libtest+=(--skip "$t"); done
        cargo test --quiet "${args[@]}" -- "${libtest[@]}" 2>&1 | tee -a .cache/test-output.txt
    fi
}
run_tests --workspace
# nextest does not run documentation examples.
cargo test --workspace --doc --quiet 2>&1 | tee -a .cache/test-output.txt
# The merchant and device API tests again on the PostgreSQL backend (a fresh database per server). Skipped by
# name: the three that edit or copy the SQLite file itself (their PostgreSQL counterparts are in idv-store's tests).
phase "API tests on PostgreSQL"
IDV_TEST_BACKEND=postgres run_tests -p idv-server --test it \
    --skip=a_transaction_moved_to_another_merchant_reveals_nothing \
    --skip=the_expiry_sweep_goes_past_a_transaction_it_cannot_open \
    --skip=the_retention_sweep_deletes_everything_but_the_decision_including_in_old_copies
# The closing summary line for runners that read one: nextest's summaries ("N tests run: N passed") and
# cargo's per-binary lines ("test result: ok. N passed"), added up.
passed=$(grep -Eo '(tests run: [0-9]+ passed|^test result: ok\. [0-9]+ passed)' .cache/test-output.txt |
    grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
fuzz="${FUZZ_SECONDS:-15}"
if [[ "$fuzz" != 0 ]]; then
    phase "fuzz (${fuzz}s per target)"
    FUZZ_SECONDS="$fuzz" scripts/fuzz.sh
fi
phase "done"
echo "all: $passed passed, 0 failed"
