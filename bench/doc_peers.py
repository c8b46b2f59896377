"""Peers for bench/doc.sh: read the same passport photos with rapidocr (the same PP-OCRv6 small models through
ONNX Runtime) and PassportEye (Tesseract), one thread each, and print the same SUMMARY line as doc_bench.

usage: doc_peers.py DIR
"""
import glob
import warnings
import json
import os
import sys
import time


def quantile(v, p):
    v = sorted(v)
    return v[round((len(v) - 1) * p)]


def mrz_lines(texts, width):
    """MRZ-looking lines (the right width give or take, with fillers), spaces removed, bottom-most last."""
    out = []
    for t in texts:
        s = "".join(t.split()).upper()
        if "<" in s and abs(len(s) - width) <= 2:
            out.append(s)
    return out[-2:]


def run(name, files, read):
    read(files[0][0])  # warm-up
    ms, exact = [], 0
    for path, truth in files:
        t0 = time.perf_counter()
        try:
            lines = read(path)
        except Exception:  # a peer crashing on one photo counts as a miss, not a benchmark failure
            lines = []
        ms.append((time.perf_counter() - t0) * 1e3)
        exact += int(lines == truth["mrz"])
    print(f"SUMMARY\t{name}\t{len(ms)}\t{quantile(ms, 0.5):.1f}\t{quantile(ms, 0.99):.1f}\t"
          f"{100.0 * exact / len(ms):.1f}\t-", flush=True)


def main():
    warnings.simplefilter("ignore")
    d = sys.argv[1]
    files = []
    for p in sorted(glob.glob(os.path.join(d, "*.jpg")) + glob.glob(os.path.join(d, "*.png"))):
        with open(os.path.splitext(p)[0] + ".json") as f:
            files.append((p, json.load(f)))

    from rapidocr import RapidOCR
    ocr = RapidOCR(params={
        "Global.use_cls": False,
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    })

    def rapid(path):
        r = ocr(path)
        return mrz_lines(list(r.txts or []), 44)

    run("rapidocr 3.10 (Python, PP-OCRv6 small, 1 thread)", files, rapid)

    from passporteye import read_mrz

    def eye(path):
        m = read_mrz(path)
        if m is None:
            return []
        return [l for l in m.aux.get("raw_text", "").split("\n") if l.strip()][-2:]

    run("PassportEye 2.2.2 (Python, Tesseract eng, 1 thread)", files, eye)

    tessdata = os.environ.get("IDV_TESSDATA_OCRB")
    if tessdata:
        params = f"--tessdata-dir {tessdata} -l ocrb_int"

        def eye_ocrb(path):
            m = read_mrz(path, extra_cmdline_params=params)
            if m is None:
                return []
            return [l for l in m.aux.get("raw_text", "").split("\n") if l.strip()][-2:]

        run("PassportEye 2.2.2 (Python, Tesseract ocrb_int, 1 thread)", files, eye_ocrb)


if __name__ == "__main__":
    main()
