#!/usr/bin/env bash
# Python environment for the project's Python tooling (the official-SDK interop tests).
#
#   scripts/setup-python.sh      -> <repo>/.venv, with tests/interop/requirements.txt and
#                                   tests/doc/requirements.txt installed
#
# Idempotent and silent when there is nothing to do: the venv is created with the system python3 only if it
# is missing (or broken), and the requirements are (re)installed only when requirements.txt changed since the
# last successful install (its sha256 is kept in .venv/.requirements.sha256). Safe to run concurrently: runs
# are serialised with flock on this script file. Override the interpreter with PYTHON=/path/to/python3.
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/tests/interop/requirements.txt"
# Further requirement files, installed together with the first (the stamp covers all of them).
reqs=("$req" "$root/tests/doc/requirements.txt")
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

if command -v flock >/dev/null 2>&1; then
    exec 9<"${BASH_SOURCE[0]}"
    flock 9
fi

for r in "${reqs[@]}"; do
    [[ -f "$r" ]] || { echo "setup-python: $r not found" >&2; exit 1; }
done

if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    command -v "$python" >/dev/null 2>&1 || { echo "setup-python: '$python' not found" >&2; exit 1; }
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
        || { echo "setup-python: $("$python" -V 2>&1) is too old (need >= 3.9; pins were made on 3.11)" >&2; exit 1; }
    echo "setup-python: creating $venv with $("$python" -V 2>&1)"
    rm -rf -- "$venv"
    "$python" -m venv "$venv"
fi

want="$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
    echo "setup-python: installing ${reqs[*]#"$root/"} into .venv"
    rm -f -- "$stamp"
    args=()
    for r in "${reqs[@]}"; do args+=(-r "$r"); done
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet --no-input "${args[@]}"
    "$venv/bin/python" -m pip check >/dev/null \
        || { "$venv/bin/python" -m pip check >&2; echo "setup-python: inconsistent environment" >&2; exit 1; }
    printf '%s\n' "$want" >"$stamp.tmp"
    mv -f -- "$stamp.tmp" "$stamp"
fi
