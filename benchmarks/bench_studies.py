#!/usr/bin/env python
"""Time the samples-features study: by default the full grid of the method.

Sizes 500, 1000, 2000 and 10000 samples x 1 to 6 informative features x 3 seeds, 1296 features,
signal to noise 6, every run a VAE trained for ``--epochs`` epochs (the method: 500), all cores.

    python benchmarks/bench_studies.py --epochs 10          # full grid, 10 epochs per run
    python benchmarks/bench_studies.py --quick              # the reduced grid of --quick

Prints the total wall time, the time of every run (VAE fit and whole run), and the seconds per
epoch and sample, from which the full 500-epoch grid is extrapolated.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import matplotlib

matplotlib.use("Agg")

from proteolabel.studies import GRIDS, run_study


def main() -> None:
    full = GRIDS["samples-features"]["full"]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--epochs", type=int, default=None,
                   help="VAE epochs per run (default: 500, or 10 with --quick)")
    p.add_argument("--quick", action="store_true", help="the reduced grid")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sizes", type=int, nargs="+", default=None)
    p.add_argument("--informative", type=int, nargs="+", default=None)
    p.add_argument("--jobs", type=int, default=-1, help="processes (-1: every core)")
    p.add_argument("--embedding", default="vae", choices=["vae", "pca"])
    p.add_argument("--out", default=None, help="keep the CSV and figure here")
    args = p.parse_args()

    out = args.out or tempfile.mkdtemp(prefix="bench_studies_")
    t0 = time.perf_counter()
    df = run_study(
        "samples-features", out, sizes=args.sizes, informative=args.informative,
        seeds=args.seeds, epochs=args.epochs, quick=args.quick, n_jobs=args.jobs,
        embedding=args.embedding, progress=True,
    )
    total = time.perf_counter() - t0
    epochs = int(df["epochs"].iloc[0])
    print(f"\nsamples-features: {len(df)} runs, {epochs} epochs, {os.cpu_count()} cores, "
          f"jobs={args.jobs}: total {total:.1f} s (output in {out})")
    print(f"{'n_samples':>9} {'informative':>11} {'seed':>4} {'fit_s':>8} {'run_s':>8}")
    for r in df.sort_values(["n_samples", "n_informative", "seed"]).itertuples():
        print(f"{r.n_samples:>9} {r.n_informative:>11} {r.seed:>4} {r.fit_seconds:>8.1f} "
              f"{r.seconds:>8.1f}")
    per = df.groupby("n_samples")[["fit_seconds", "seconds"]].median()
    print("\nmedian per run:")
    print(per.to_string(float_format=lambda v: f"{v:.1f}"))
    if args.embedding == "vae":
        sample_epochs = float((df["n_samples"] * epochs).sum())
        rate = float(df["fit_seconds"].sum()) / sample_epochs
        runs_full = len(full.informative) * args.seeds
        full_work = sum(full.sizes) * runs_full * full.epochs
        busy = float(df["seconds"].sum())
        print(f"\nVAE fit: {rate * 1e3:.3f} ms per sample and epoch in one worker "
              f"({rate * 1000:.2f} s per epoch of 1000 samples)")
        print(f"parallel efficiency: {busy / total:.2f} busy workers on average")
        est = rate * full_work / max(busy / total, 1.0)
        print(f"extrapolated full grid at {full.epochs} epochs ({full_work / full.epochs:.0f} "
              f"sample-runs): {est / 3600:.1f} h on this machine")


if __name__ == "__main__":
    main()
