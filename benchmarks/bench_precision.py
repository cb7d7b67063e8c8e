"""Does reduced precision change the result? float32 against bfloat16 products on real datasets.

For each dataset and seed the whole job runs once with ``precision="float32"`` and once with
each reduced precision of ``--reduced``, in one process, on the same data, seed and settings:
``"mixed"`` (the fused CPU step with bfloat16 inputs in the output layer's forward and
backward products, everything else float32) and ``"bfloat16"`` (PyTorch autocast over every product; the
loss, the optimiser and the weights stay float32). Printed per dataset and reduced precision, as
medians over seeds:

* ``loss_rel``: relative difference of the final training loss, reduced against float32;
* ``curve_rel``: the largest relative difference of the loss curves (epoch by epoch, after the
  first 10 epochs);
* ``ari_precision``: ARI between the float32 and the reduced-precision clusters (same seed);
* ``ari_seed``: ARI between the float32 clusters of this seed and of the next seed: how much
  the result moves from seed noise alone, the yardstick for ``ari_precision``;
* held-out V-measure with each precision;
* seconds of the VAE fit with each precision.

Usage::

    python benchmarks/bench_precision.py                         # alzheimer nafld diubi, seeds 0-2
    python benchmarks/bench_precision.py --datasets alzheimer --seeds 0 1 --epochs 200

The tolerances for turning bfloat16 on by default (see the README): loss and curve within 1 %,
and ``ari_precision`` not below ``ari_seed`` (the precision moves the clusters no more than a
change of seed does).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_real_datasets import CASES, _materialise  # noqa: E402


def _options(extra: list[str]) -> dict:
    out = {}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        key = flag.lstrip("-").replace("-", "_")
        out[key] = float(value) if key == "tune_fraction" else int(value)
    return out


def one(name: str, seed: int, precision: str, epochs: int, tmp: Path):
    from proteolabel import models
    from proteolabel._pipeline import run
    from proteolabel.models import VAEEmbedder

    inp, labels, column, extra = CASES[name]
    kw = _options(extra)
    embedder = models.VAEEmbedder
    if precision == "float32-autograd":  # float32 in another rounding order: the noise floor
        class Autograd(VAEEmbedder):
            def fit(self, X, y=None):
                self.engine = "torch"
                return super().fit(X, y)

        models.VAEEmbedder, precision = Autograd, "float32"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run(input=str(_materialise(inp, tmp)),
                      labels=None if labels is None else str(_materialise(labels, tmp)),
                      label_column=column, seed=seed, epochs=epochs, precision=precision,
                      classifier=False, out=None, progress=False, **kw)
    finally:
        models.VAEEmbedder = embedder
    hist = res.embedder.history_
    held = (res.info["metrics"].get("heldout") or {}).get("v_measure")
    return {
        "loss": hist["loss"].to_numpy(),
        "clusters": res.adata.obs["cluster"].to_numpy(),
        "heldout_v": float("nan") if held is None else float(held),
        "fit_s": float(res.info["timings_s"]["embed"]),
        "n_clusters": res.info["counts"]["clusters"],
    }


def main() -> None:
    from sklearn.metrics import adjusted_rand_score

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["alzheimer", "nafld", "diubi"],
                    choices=list(CASES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--reduced", nargs="+", default=["float32-autograd", "mixed", "bfloat16"],
                    choices=["float32-autograd", "mixed", "bfloat16"],
                    help="settings to compare with float32 (fused engine); float32-autograd is "
                         "float32 with PyTorch autograd, the same arithmetic in another rounding "
                         "order: the yardstick of what rounding alone moves")
    args = ap.parse_args()
    import torch

    from proteolabel.nn._fused_cpu import bf16_products_supported

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"native bf16 products: {bf16_products_supported()}")
    head = ("dataset", "precision", "loss_rel", "curve_rel", "ari_precision", "ari_seed",
            "held_v_f32", "held_v_red", "clusters_f32", "clusters_red", "fit_s_f32", "fit_s_red")
    print(" ".join(f"{h:>13s}" for h in head))
    with tempfile.TemporaryDirectory() as d:
        for name in args.datasets:
            runs = {(s, p): one(name, s, p, args.epochs, Path(d))
                    for s in args.seeds for p in ("float32", *args.reduced)}
            for red in args.reduced:
                rows = []
                for i, s in enumerate(args.seeds):
                    a, b = runs[(s, "float32")], runs[(s, red)]
                    nxt = runs[(args.seeds[(i + 1) % len(args.seeds)], "float32")]
                    tail = slice(10, None)
                    rows.append({
                        "loss_rel": abs(b["loss"][-1] - a["loss"][-1]) / abs(a["loss"][-1]),
                        "curve_rel": float(np.max(np.abs(b["loss"][tail] - a["loss"][tail])
                                                  / np.abs(a["loss"][tail]))),
                        "ari_precision": adjusted_rand_score(a["clusters"], b["clusters"]),
                        "ari_seed": (adjusted_rand_score(a["clusters"], nxt["clusters"])
                                     if len(args.seeds) > 1 else float("nan")),
                        "held_v_f32": a["heldout_v"], "held_v_red": b["heldout_v"],
                        "clusters_f32": a["n_clusters"], "clusters_red": b["n_clusters"],
                        "fit_s_f32": a["fit_s"], "fit_s_red": b["fit_s"],
                    })
                med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
                print(f"{name:>13s} {red:>13s} " + " ".join(f"{med[k]:13.4f}" for k in head[2:]),
                      flush=True)

if __name__ == "__main__":
    main()
