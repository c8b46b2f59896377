"""Python peer for the FaceCompare benchmark: the same two JPEGs through opencv-python's FaceDetectorYN and
FaceRecognizerSF with the same ONNX files, single thread. Prints `sample|name|wall_ms|cpu_ms` lines like
the Rust benchmark (bench/face.sh turns them into percentiles). Run by bench/face.sh after the Rust benchmark has
written the inputs.

    .venv/bin/python bench/face_peer.py [--iterations N] [--inputs DIR]
"""

import argparse
import os
import time

import cv2
import numpy as np

YUNET = "models/face_detection_yunet_2023mar.onnx"
SFACE = "models/face_recognition_sface_2021dec.onnx"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--inputs", default=".cache/face-bench")
    args = ap.parse_args()
    cv2.setNumThreads(1)

    blobs = [np.fromfile(os.path.join(args.inputs, n), dtype=np.uint8) for n in ("a.jpg", "b.jpg")]
    detector = cv2.FaceDetectorYN.create(YUNET, "", (640, 480), 0.75, 0.3, 50)
    recognizer = cv2.FaceRecognizerSF.create(SFACE, "")

    def analyze(blob):
        img = cv2.imdecode(blob, cv2.IMREAD_COLOR)
        detector.setInputSize((img.shape[1], img.shape[0]))
        _, faces = detector.detect(img)
        face = max(faces, key=lambda f: f[2] * f[3])
        return recognizer.feature(recognizer.alignCrop(img, face))

    def stamp():
        return time.perf_counter(), time.thread_time()

    def since(t):
        wall, cpu = stamp()
        return (wall - t[0]) * 1e3, (cpu - t[1]) * 1e3

    warmup = 5
    e2e, det_ms, rec_ms = [], [], []
    cosine = None
    img = cv2.imdecode(blobs[0], cv2.IMREAD_COLOR)
    for i in range(warmup + args.iterations):
        t = stamp()
        fa, fb = analyze(blobs[0]), analyze(blobs[1])
        cosine = recognizer.match(fa, fb, cv2.FaceRecognizerSF_FR_COSINE)
        total = since(t)

        detector.setInputSize((img.shape[1], img.shape[0]))
        t = stamp()
        _, faces = detector.detect(img)
        td = since(t)
        aligned = recognizer.alignCrop(img, faces[0])
        t = stamp()
        recognizer.feature(aligned)
        tr = since(t)
        if i >= warmup:
            e2e.append(total)
            det_ms.append(td)
            rec_ms.append(tr)
    print(f"info|peer|opencv-python {cv2.__version__}, numpy {np.__version__}")
    print(f"info|decision (peer)|cosine {cosine:.4f}")
    det_name = f"python peer:   FaceDetectorYN.detect ({img.shape[1]}x{img.shape[0]})"
    for name, values in [
        ("python peer: FaceCompare end to end (2 images)", e2e),
        (det_name, det_ms),
        ("python peer:   FaceRecognizerSF.feature", rec_ms),
    ]:
        for wall, cpu in values:
            print(f"sample|{name}|{wall:.4f}|{cpu:.4f}")

if __name__ == "__main__":
    main()
