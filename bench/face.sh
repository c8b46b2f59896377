#!/usr/bin/env bash
# FaceCompare benchmark: idv-face (Rust, ONNX Runtime) and a Python peer (opencv-python, same ONNX files) on
# the same two 640x480 JPEGs in the same run, single thread each; prints one table of p50/p99, wall clock
# and the measuring thread's CPU time (the stable figure on a machine shared with other work).
#
#   bench/face.sh [ITERATIONS] [ROUNDS]     (defaults 100 and 2; run from anywhere)
#
# Each round runs the Rust benchmark then the peer for ITERATIONS/ROUNDS iterations; percentiles are over
# all rounds, so background load on a shared machine hits both sides alike. Needs scripts/fetch-assets.sh
# (run here) and the project venv; installs bench/requirements.txt into .venv when it changed. Builds the
# Rust side in release mode.
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
iterations="${1:-100}"
rounds="${2:-2}"
per_round=$(( (iterations + rounds - 1) / rounds ))
inputs="$root/.cache/face-bench"

scripts/fetch-assets.sh
[[ -x .venv/bin/python ]] || scripts/setup-python.sh
stamp=".venv/.bench-requirements.sha256"
want="$(sha256sum bench/requirements.txt | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]] || ! .venv/bin/python -c 'import cv2' 2>/dev/null; then
    echo "face.sh: installing bench/requirements.txt into .venv" >&2
    PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/python -m pip install --quiet --no-input -r bench/requirements.txt
    printf '%s\n' "$want" >"$stamp"
fi

cargo build --quiet --release -p idv-face --example face_bench
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# One thread everywhere: ONNX Runtime gets intra_threads=1 from the engine, OpenCV gets setNumThreads(1).
for _ in $(seq "$rounds"); do
    OMP_NUM_THREADS=1 target/release/examples/face_bench --iterations "$per_round" --inputs "$inputs" >>"$out"
    OMP_NUM_THREADS=1 .venv/bin/python bench/face_peer.py --iterations "$per_round" --inputs "$inputs" >>"$out"
done

.venv/bin/python - "$out" <<'PY'
import math, sys
wall, cpu, info = {}, {}, {}
for line in open(sys.argv[1]):
    kind, key, value = line.rstrip("\n").split("|", 2)
    if kind == "sample":
        w, c = value.split("|")
        wall.setdefault(key, []).append(float(w))
        cpu.setdefault(key, []).append(float(c))
    elif kind == "info":
        info[key] = value  # the last round's value

def pct(v, p):
    v = sorted(v)
    return v[min(len(v), max(1, math.ceil(p / 100 * len(v)))) - 1]

print(f"{'':<58} {'wall clock (ms)':>17} {'thread CPU (ms)':>17}")
print(f"{'measurement':<58} {'p50':>8} {'p99':>8} {'p50':>8} {'p99':>8} {'n':>5}")
for name in wall:
    w, c = wall[name], cpu[name]
    print(f"{name:<58} {pct(w, 50):8.2f} {pct(w, 99):8.2f} {pct(c, 50):8.2f} {pct(c, 99):8.2f} {len(w):5d}")
print()
for k, v in info.items():
    print(f"{k:<58} {v}")
E2E, PEER = "rust: FaceCompare end to end (2 images)", "python peer: FaceCompare end to end (2 images)"
YUNET = next(k for k in wall if k.startswith("rust: YuNet alone"))
cosines = {k: float(v.split("cosine ")[1].split()[0]) for k, v in info.items() if k.startswith("decision")}
gap = abs(cosines["decision (rust)"] - cosines["decision (peer)"])
for label, d in (("wall", wall), ("cpu", cpu)):
    p50 = {k: pct(v, 50) for k, v in d.items()}
    models = 2 * (p50[YUNET] + p50["rust: SFace alone (112x112)"])
    print(f"[{label}] models alone for one compare (2 YuNet + 2 SFace), p50: {models:.2f} ms;"
          f" rust end to end / models: {p50[E2E] / models:.2f}x (goal <= 1.5x);"
          f" python peer / rust: {p50[PEER] / p50[E2E]:.2f}x (goal >= 1.3x), cosine gap {gap:.4f} (goal <= 0.01)")
PY
