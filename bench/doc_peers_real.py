"""Peer for bench/doc.sh --real: PassportEye (Tesseract with the OCR-B model) on the same real pictures that
`idv doc eval --real` reads, each counted against its NAME.mrz.txt ground truth the same way: exact,
wrong_but_valid (every check digit holds, the read differs from the truth), reported_invalid (the zone is printed
with invalid check digits and the read says invalid), misread_invalid, unread. Prints one JSON object.

usage: doc_peers_real.py DIR
"""
import json
import os
import sys
import warnings


def format_of(lines):
    visa = bool(lines) and lines[0].startswith("V")
    shape = (len(lines), len(lines[0]) if lines else 0)
    return {(3, 30): "TD1", (2, 36): "MRV-B" if visa else "TD2", (2, 44): "MRV-A" if visa else "TD3"}.get(shape)


def main():
    warnings.simplefilter("ignore")
    d = sys.argv[1]
    from passporteye import read_mrz
    from mrz.checker.td1 import TD1CodeChecker
    from mrz.checker.td2 import TD2CodeChecker
    from mrz.checker.td3 import TD3CodeChecker
    from mrz.checker.mrva import MRVACodeChecker
    from mrz.checker.mrvb import MRVBCodeChecker

    checkers = {"TD1": TD1CodeChecker, "TD2": TD2CodeChecker, "TD3": TD3CodeChecker, "MRV-A": MRVACodeChecker,
                "MRV-B": MRVBCodeChecker}

    def valid(fmt, lines):
        try:
            return bool(checkers[fmt]("\n".join(lines)))
        except Exception:
            return False

    tessdata = os.environ.get("IDV_TESSDATA_OCRB")
    params = f"--tessdata-dir {tessdata} -l ocrb_int" if tessdata else ""
    cases = []
    for name in sorted(os.listdir(d)):
        truth_path = os.path.join(d, name + ".mrz.txt")
        if name.endswith((".txt", ".tsv", ".md")) or not os.path.exists(truth_path):
            continue
        with open(truth_path) as f:
            truth = [l.strip() for l in f if l.strip()]
        fmt = format_of(truth)
        if fmt is None:
            continue
        printed_valid = valid(fmt, truth)
        try:
            m = read_mrz(os.path.join(d, name), extra_cmdline_params=params)
        except Exception:  # a crash on one picture is a miss, not a benchmark failure
            m = None
        lines = [l for l in (m.aux.get("raw_text", "") if m else "").split("\n") if l.strip()][-len(truth):]
        if not lines:
            outcome = "unread"
        else:
            ok = valid(fmt, lines) if format_of(lines) == fmt else False
            if lines == truth:
                outcome = "exact" if ok or not printed_valid else "unread"
                if not ok and not printed_valid:
                    outcome = "reported_invalid"
            elif ok:
                outcome = "wrong_but_valid"
            else:
                outcome = "reported_invalid" if not printed_valid else "misread_invalid"
        cases.append({"file": name, "format": fmt, "printed_valid": printed_valid, "outcome": outcome})
    print(json.dumps({"cases": cases}))


if __name__ == "__main__":
    main()
