"""The whole job on every real dataset of the project: tune and held-out scores, over seeds.

Runs ``proteolabel run`` (default settings: 500 epochs, the method's VAE and DBSCAN) on each public
dataset with its known groups as labels, a stratified share of the labelled samples as tune
samples and the rest held out, for several seeds, and prints one row per (dataset, seed) and
the median over seeds: clusters found, noise, V-measure and ARI on the tune samples and on the
held-out samples, wall seconds. The datasets are the byte-exact copies in
``tests/data/datasets`` (and the Alzheimer cohort the package ships).

Usage::

    python benchmarks/bench_real_datasets.py                 # every dataset, seeds 0 1 2
    python benchmarks/bench_real_datasets.py --seeds 0 --datasets alzheimer nafld
    python benchmarks/bench_real_datasets.py --epochs 100    # quicker, not the method's setting
"""

from __future__ import annotations

import argparse
import json
import lzma
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "tests" / "data" / "datasets"

# name -> (input file, label file or None, label column or None, extra CLI options)
CASES: dict[str, tuple[str, str | None, str | None, list[str]]] = {
    "alzheimer": ("<demo>", None, "_collection site", ["--tune-fraction", "0.3"]),
    "nafld": ("nafld-plasma-maxquant/proteinGroups.txt", "nafld-plasma-maxquant/metadata.xlsx",
              "disease", ["--tune-fraction", "0.5"]),
    "diubi": ("ubiquitin-dep-maxquant/DiUbi_proteinGroups.tsv",
              "ubiquitin-dep-maxquant/DiUbi_ExpDesign.tsv", "condition",
              ["--tune-fraction", "0.34", "--min-samples", "2"]),
    "ubilength": ("ubiquitin-dep-maxquant/UbiLength_proteinGroups.tsv",
                  "ubiquitin-dep-maxquant/UbiLength_ExpDesign.tsv", "condition",
                  ["--tune-fraction", "0.34", "--min-samples", "2"]),
    "rapamycin": ("rapamycin-spectronaut-precursors/rapamycin_dose_response.tsv", None,
                  "r_condition", ["--tune-fraction", "0.5", "--min-samples", "2"]),
    "skyline": ("skyline-msstats-spikein/skyline_input.csv", None, "Condition",
                ["--tune-fraction", "0.34", "--min-samples", "2"]),
    # the same NAFLD cohort with a min_samples its groups of 8-10 can reach
    "nafld_ms4": ("nafld-plasma-maxquant/proteinGroups.txt", "nafld-plasma-maxquant/metadata.xlsx",
                  "disease", ["--tune-fraction", "0.5", "--min-samples", "4"]),
    "rapamycin10": ("rapamycin-spectronaut-precursors/rapamycin_10uM.tsv", None, "r_condition",
                    ["--tune-fraction", "0.5", "--min-samples", "2"]),
    # no label column: groups are only in the run names; eps by the unsupervised rule
    "diann_report": ("proteobench-diann-maxquant/DIANN_1.9_beta_sample_report.tsv", None, None,
                     ["--min-samples", "2"]),
    "mq_evidence": ("proteobench-diann-maxquant/MaxQuant_2_5_1_evidence_sample.txt", None, None,
                    ["--min-samples", "2"]),
}


def _materialise(rel: str, into: Path) -> Path:
    if rel == "<demo>":
        from proteolabel import datasets

        return Path(datasets.alzheimer_csf_path())
    src = DATASETS / (rel + ".xz")
    dest = into / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(lzma.decompress(src.read_bytes()))
    return dest


def run_one(name: str, seed: int, epochs: int, tmp: Path) -> dict:
    inp, labels, column, extra = CASES[name]
    out = tmp / f"{name}-{seed}"
    cmd = [sys.executable, "-m", "proteolabel.cli", "-q", "run", str(_materialise(inp, tmp)),
           "--seed", str(seed), "--epochs", str(epochs), "--no-classifier", "--out", str(out),
           *extra]
    if column:
        cmd += ["--label-column", column]
    if labels:
        cmd += ["--labels", str(_materialise(labels, tmp))]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    info = json.loads((out / "run.json").read_text())
    m, c = info["metrics"], info["counts"]

    def get(part: str, key: str) -> float:
        v = (m.get(part) or {}).get(key)
        return float("nan") if v is None else float(v)

    n_in = c["samples_in_input"]
    rows = sum(1 for _ in open(out / "labels.csv")) - 1
    return {
        "dataset": name, "seed": seed, "samples": n_in, "in_labels_csv": rows,
        "proteins": c["proteins_used"], "tune": c["tune_samples"], "heldout": c["heldout_samples"],
        "clusters": c["clusters"], "noise": c["noise_samples"], "eps": info["eps"],
        "tune_v": get("tune", "v_measure"), "tune_ari": get("tune", "ari"),
        "heldout_v": get("heldout", "v_measure"), "heldout_ari": get("heldout", "ari"),
        "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--json", default=None, help="also write every row to this JSON file")
    args = ap.parse_args()
    cols = ["dataset", "seed", "samples", "in_labels_csv", "proteins", "tune", "heldout",
            "clusters", "noise", "eps", "tune_v", "tune_ari", "heldout_v", "heldout_ari", "wall_s"]
    print(" ".join(f"{c:>11s}" for c in cols))
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in args.datasets:
            for seed in args.seeds:
                r = run_one(name, seed, args.epochs, Path(d))
                rows.append(r)
                print(" ".join(f"{r[c]:>11.3f}" if isinstance(r[c], float) else f"{r[c]!s:>11s}"
                               for c in cols), flush=True)
    print(f"\nmedian over seeds {args.seeds} ({args.epochs} epochs):")
    print(f"{'dataset':>11s} {'clusters':>9s} {'tune_v':>7s} {'tune_ari':>8s} {'heldout_v':>9s} "
          f"{'heldout_ari':>11s} {'wall_s':>7s}")
    for name in args.datasets:
        rs = [r for r in rows if r["dataset"] == name]

        def med(k: str, rs=rs) -> float:
            return statistics.median(r[k] for r in rs)

        print(f"{name:>11s} {med('clusters'):9.1f} {med('tune_v'):7.3f} {med('tune_ari'):8.3f} "
              f"{med('heldout_v'):9.3f} {med('heldout_ari'):11.3f} {med('wall_s'):7.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
