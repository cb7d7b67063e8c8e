"""Late-epoch training speed on real data, with and without the sweep of Adam's tiny moments.

Units whose ReLU never fires get a zero gradient; Adam's first moment of their weights decays by
0.9 a step until it is a subnormal float, and x86 CPUs are many times slower on those. The
training loop sets such moments to zero every ``FLUSH_EVERY`` steps (see
``proteolabel.nn._fused_cpu.flush_tiny_moments_``). This script measures what that buys, side by
side, on the bundled Alzheimer CSF dataset after the method's preprocessing (210 x 1296):

* 500 epochs (the default) at the real size, for each engine: total seconds, seconds of the
  first and the last 100 epochs, and whether the final weights are the same bit for bit;
* the same data stacked to 10,000 rows (80 steps an epoch): median s/epoch of epochs 2-5 and of
  the last 5 of ``--big-epochs``.

Each setting runs in a fresh subprocess; rounds are interleaved.

Usage::

    python benchmarks/bench_moment_sweep.py                  # 2 rounds, engines auto and torch
    python benchmarks/bench_moment_sweep.py --rounds 1 --engines auto --big-epochs 0
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys

_CHILD = r"""
import hashlib, json, sys, time
import numpy as np, torch
from proteolabel import datasets, pp
from proteolabel.models import VAEEmbedder
from proteolabel.nn import _fused_cpu
engine, flush, rows, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
_fused_cpu.FLUSH_EVERY = flush
X = np.asarray(pp.preprocess(datasets.alzheimer_csf()).X, dtype=np.float32)
X = np.tile(X, (-(-rows // X.shape[0]), 1))[:rows]
t = time.perf_counter()
est = VAEEmbedder(epochs=epochs, random_state=0, engine=engine).fit(X)
total = time.perf_counter() - t
s = est.history_["seconds"].to_numpy()
h = hashlib.sha256()
for k, v in sorted(est.module_.state_dict().items()):
    h.update(k.encode()); h.update(v.numpy().tobytes())
print(json.dumps({"total": total, "first100": float(s[:100].sum()), "last100": float(s[-100:].sum()),
                  "early": float(np.median(s[1:5])), "late": float(np.median(s[-5:])),
                  "weights": h.hexdigest(), "loss": float(est.history_["loss"].iloc[-1])}))
"""


def _run(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, *map(str, args)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--engines", nargs="+", default=["auto", "torch"])
    ap.add_argument("--epochs", type=int, default=500, help="epochs at the real size")
    ap.add_argument("--big-epochs", type=int, default=30, help="epochs at 10,000 rows (0: skip)")
    args = ap.parse_args()
    from proteolabel.nn._fused_cpu import FLUSH_EVERY

    settings = {"off": 0, f"every {FLUSH_EVERY} steps": FLUSH_EVERY}
    for engine in args.engines:
        real: dict[str, list[dict]] = {}
        big: dict[str, list[dict]] = {}
        for _ in range(args.rounds):
            for name, every in settings.items():
                real.setdefault(name, []).append(_run(engine, every, 210, args.epochs))
                if args.big_epochs:
                    big.setdefault(name, []).append(_run(engine, every, 10000, args.big_epochs))
        print(f"\nengine={engine}: Alzheimer CSF 210 x 1296, {args.epochs} epochs, "
              f"median of {args.rounds} interleaved rounds")
        print(f"{'sweep':18s} {'total s':>8s} {'first 100':>10s} {'last 100':>9s} {'loss':>9s}")
        for name, rs in real.items():
            med = {k: statistics.median(r[k] for r in rs) for k in ("total", "first100", "last100")}
            print(f"{name:18s} {med['total']:8.2f} {med['first100']:10.3f} {med['last100']:9.3f} "
                  f"{rs[0]['loss']:9.3f}")
        digests = {r["weights"] for rs in real.values() for r in rs}
        print(f"final weights the same bit for bit in all runs: {len(digests) == 1} "
              f"(sha256 {hashlib.sha256(''.join(sorted(digests)).encode()).hexdigest()[:12]})")
        if big:
            print(f"engine={engine}: the same data stacked to 10,000 x 1296, {args.big_epochs} "
                  "epochs, median s/epoch")
            print(f"{'sweep':18s} {'epochs 2-5':>11s} {'last 5':>8s}")
            for name, rs in big.items():
                print(f"{name:18s} {statistics.median(r['early'] for r in rs):11.4f} "
                      f"{statistics.median(r['late'] for r in rs):8.4f}")


if __name__ == "__main__":
    main()
