"""Benchmark the exact DBSCAN eps sweep against direct scikit-learn DBSCAN fits.

Two parts, each in its own process so that its peak memory is its own:

* ``sweep``: ``DBSCANPath`` on N latent-like 2-D points (Gaussian groups of different sizes
  and spreads plus uniform background, like a VAE latent), the derived eps grid, and every
  eps's labels written into one (n_eps, N) int32 array (what ``dbscan_sweep`` returns).
* ``direct``: at ``--direct-n`` points, the same sweep and ``sklearn.cluster.DBSCAN`` fits at a
  few eps spread over the grid (those whose neighbour lists fit in memory); the labels are
  checked to agree, and the ratio extrapolates the direct fits to the whole grid.

Usage::

    python benchmarks/bench_eps_sweep.py                 # N = 1,000,000, 200 eps; 100,000 direct
    python benchmarks/bench_eps_sweep.py --n 200000 --direct-n 20000 --direct-fits 3

Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the part's process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def latent_like(n: int, seed: int = 0) -> np.ndarray:
    """N points: 8 Gaussian groups of different spreads and sizes plus 10% uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, size=(8, 2))
    weights = rng.dirichlet(np.full(8, 2.0)) * 0.9
    sizes = np.floor(weights * n).astype(int)
    parts = [rng.normal(c, 0.15 + 0.05 * i, size=(s, 2)) for i, (c, s) in
             enumerate(zip(centres, sizes, strict=True))]
    parts.append(rng.uniform(-6, 6, size=(n - sizes.sum(), 2)))
    X = np.concatenate(parts)
    return X[rng.permutation(n)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def part_sweep(n: int, n_eps: int, min_samples: int) -> dict:
    from proteolabel.cluster import DBSCANPath

    X = latent_like(n)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    path = DBSCANPath(X, min_samples)
    t1 = time.perf_counter()
    grid = path.grid(n_eps)
    labels = np.empty((grid.size, n), dtype=np.int32)
    for i, lab in enumerate(path.iter_labels(grid)):
        labels[i] = lab
    t2 = time.perf_counter()
    n_clusters = labels.max(axis=1) + 1
    return {
        "part": "sweep", "n": n, "n_eps": int(grid.size), "min_samples": min_samples,
        "seconds_structures": t1 - t0, "seconds_labels": t2 - t1, "seconds_total": t2 - t0,
        "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base,
        "labels_array_mb": labels.nbytes / 2**20,
        "eps_min": float(grid[0]), "eps_max": float(grid[-1]),
        "max_clusters": int(n_clusters.max()),
    }


def part_direct(n: int, n_eps: int, min_samples: int, fits: int, max_pairs: float) -> dict:
    from scipy.spatial import cKDTree
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import adjusted_rand_score

    from proteolabel.cluster import DBSCANPath

    X = latent_like(n)
    t0 = time.perf_counter()
    path = DBSCANPath(X, min_samples)
    grid = path.grid(n_eps)
    labels = np.empty((grid.size, n), dtype=np.int32)
    for i, lab in enumerate(path.iter_labels(grid)):
        labels[i] = lab
    sweep_s = time.perf_counter() - t0
    # Estimate each eps's neighbour-list size from a sample; skip the ones that would not fit.
    tree = cKDTree(X)
    probe = X[np.random.default_rng(1).choice(n, min(n, 2000), replace=False)]
    picks = np.unique(np.linspace(0, grid.size - 1, fits).round().astype(int))
    rows = []
    for i in picks:
        e = float(grid[i])
        pairs = tree.query_ball_point(probe, e, return_length=True).mean() * n
        row = {"index": int(i), "eps": e, "est_neighbour_pairs": float(pairs)}
        if pairs > max_pairs:
            row["skipped"] = f"~{pairs:.3g} neighbour pairs (> {max_pairs:.3g})"
        else:
            t = time.perf_counter()
            ref = DBSCAN(eps=e, min_samples=min_samples).fit(X).labels_
            row["seconds"] = time.perf_counter() - t
            row["ari_vs_sweep"] = float(adjusted_rand_score(ref, labels[i]))
            row["noise_equal"] = bool(np.array_equal(ref == -1, labels[i] == -1))
        rows.append(row)
    timed = [r["seconds"] for r in rows if "seconds" in r]
    per_fit = float(np.mean(timed)) if timed else float("nan")
    return {
        "part": "direct", "n": n, "n_eps": int(grid.size), "min_samples": min_samples,
        "sweep_seconds": sweep_s, "direct_fits": rows,
        "direct_seconds_per_fit": per_fit,
        "direct_seconds_whole_grid_extrapolated": per_fit * grid.size,
        "ratio_direct_over_sweep": per_fit * grid.size / sweep_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_part(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="points for the sweep part")
    p.add_argument("--n-eps", type=int, default=200, help="eps values in the sweep")
    p.add_argument("--min-samples", type=int, default=10)
    p.add_argument("--direct-n", type=int, default=100_000,
                   help="points for the comparison with direct DBSCAN (0: skip)")
    p.add_argument("--direct-fits", type=int, default=5,
                   help="direct DBSCAN fits, at eps spread over the grid")
    p.add_argument("--max-pairs", type=float, default=3e8,
                   help="skip direct fits whose neighbour lists would exceed this many pairs")
    p.add_argument("--part", choices=["sweep", "direct"], help=argparse.SUPPRESS)
    p.add_argument("--json", help="also write the results to this JSON file")
    a = p.parse_args()

    if a.part == "sweep":
        print(json.dumps(part_sweep(a.n, a.n_eps, a.min_samples)))
        return
    if a.part == "direct":
        print(json.dumps(part_direct(a.direct_n, a.n_eps, a.min_samples, a.direct_fits,
                                     a.max_pairs)))
        return

    common = ["--n-eps", str(a.n_eps), "--min-samples", str(a.min_samples)]
    results = {"sweep": run_part(["--part", "sweep", "--n", str(a.n), *common])}
    s = results["sweep"]
    print(f"sweep: n={s['n']:,} points, {s['n_eps']} eps, min_samples={s['min_samples']}: "
          f"{s['seconds_total']:.1f} s (structures {s['seconds_structures']:.1f} s, "
          f"labels {s['seconds_labels']:.1f} s), peak RSS {s['peak_rss_mb']:.0f} MB "
          f"(labels array {s['labels_array_mb']:.0f} MB); eps {s['eps_min']:.3g}.."
          f"{s['eps_max']:.3g}, up to {s['max_clusters']} clusters")
    if a.direct_n:
        results["direct"] = run_part([
            "--part", "direct", "--direct-n", str(a.direct_n), "--direct-fits",
            str(a.direct_fits), "--max-pairs", str(a.max_pairs), *common,
        ])
        d = results["direct"]
        print(f"direct: n={d['n']:,} points: sweep of {d['n_eps']} eps {d['sweep_seconds']:.1f}"
              f" s; scikit-learn DBSCAN per fit {d['direct_seconds_per_fit']:.1f} s "
              f"-> {d['direct_seconds_whole_grid_extrapolated']:.0f} s for the grid; "
              f"ratio {d['ratio_direct_over_sweep']:.0f}x; peak RSS {d['peak_rss_mb']:.0f} MB")
        for r in d["direct_fits"]:
            if "skipped" in r:
                print(f"  eps[{r['index']}]={r['eps']:.4g}: skipped, {r['skipped']}")
            else:
                print(f"  eps[{r['index']}]={r['eps']:.4g}: {r['seconds']:.2f} s, ARI vs sweep "
                      f"{r['ari_vs_sweep']:.6f}, same noise: {r['noise_equal']}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
