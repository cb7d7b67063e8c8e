"""Training speed, side by side in one run: proteolabel vs the method's Keras code vs bare BLAS.

Prints, for each n (default 2,000 and 10,000 samples x 1,296 features, the method's shape):

* proteolabel's median seconds per epoch (each setting of ``--modes``: ``auto``, what a user
  gets, the fused CPU step with this CPU's BLAS; ``auto:mixed``, bfloat16 inputs in the output
  layer's products; ``fused/numpy``, the fused step on NumPy's OpenBLAS; ``torch``, PyTorch
  autograd; ``torch:bfloat16``, autograd under bfloat16 autocast), each in a fresh subprocess,
  with that subprocess's peak RSS;
* the method's Keras code (``../shared/baselines/seed_keras.py``) when ``--keras-python`` points at
  a Python with TensorFlow (see ../shared/baselines/README.md), likewise;
* the bare float32 matrix products of one epoch (forward + both backward products of every layer,
  batches of 128) with NumPy's BLAS and with PyTorch's;
* the ratios of these, from rounds interleaved in time (the machine is shared and drifts).

Finally it times 500 epochs on 210 x 1,296 (the demo's size) and a whole ``proteolabel demo``.

Usage::

    python benchmarks/bench_training.py                       # n = 2000, 10000; 3 rounds
    python benchmarks/bench_training.py --sizes 2000 --rounds 1 --epochs 4
    python benchmarks/bench_training.py --keras-python .venv-seed-tf/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PROTEOLABEL_SHARED", ROOT.parent / "shared"))

_CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
from proteolabel.models import VAEEmbedder
n, epochs, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
engine, _, precision = mode.partition(":")  # e.g. "torch:bfloat16"
X = np.random.default_rng(0).random((n, 1296), dtype=np.float32)
est = VAEEmbedder(epochs=epochs, random_state=0, engine=engine, precision=precision or "float32")
t = time.perf_counter(); est.fit(X); total = time.perf_counter() - t
sec = est.history_["seconds"].to_numpy()
print(json.dumps({"median_epoch_s": float(np.median(sec[1:] if len(sec) > 1 else sec)),
                  "total_s": total, "final_loss": float(est.history_["loss"].iloc[-1]),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_BARE = r"""
import json, sys, time
import numpy as np, torch
n, lib = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
layers = [(1296, 120), (120, 120), (120, 16), (16, 2), (16, 2), (2, 1296), (1296, 1296)]
W = [rng.random((o, i), dtype=np.float32) for i, o in layers]
def run_np():
    for s in range(0, n, 128):
        b = min(128, n - s)
        for w in W:
            o, i = w.shape
            x = np.ones((b, i), np.float32); g = np.ones((b, o), np.float32)
            x @ w.T; g.T @ x; g @ w
def run_torch():
    Wt = [torch.from_numpy(w) for w in W]
    for s in range(0, n, 128):
        b = min(128, n - s)
        for w in Wt:
            o, i = w.shape
            x = torch.ones(b, i); g = torch.ones(b, o)
            x @ w.T; g.T @ x; g @ w
f = run_np if lib == "numpy" else run_torch
f(); ts = []
for _ in range(3):
    t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
print(json.dumps({"epoch_products_s": float(np.median(ts))}))
"""


def _child(code: str, *args: str, python: str = sys.executable) -> dict:
    out = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _keras(python: str, n: int, epochs: int) -> dict:
    script = SHARED / "baselines" / "seed_keras.py"
    cmd = ["/usr/bin/time", "-v", python, str(script), "--n-samples", str(n), "--epochs",
           str(epochs), "--clusterers", "none", "--informative", "6"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    m = re.search(r"median_epoch_s=([0-9.]+)", out.stdout)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    return {"median_epoch_s": float(m.group(1)), "peak_rss_mb": int(rss.group(1)) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--epochs", type=int, default=6, help="epochs per timing (first is dropped)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median taken)")
    ap.add_argument("--modes", nargs="+",
                    default=["auto", "auto:mixed", "fused/numpy", "torch", "torch:bfloat16"],
                    help="VAEEmbedder settings to time: ENGINE or ENGINE:PRECISION "
                         "(auto is what a user gets)")
    ap.add_argument("--keras-python", default=None, help="a Python with TensorFlow installed")
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()

    threads = _child("import torch, json; print(json.dumps(torch.get_num_threads()))")
    print(f"python {sys.version.split()[0]}, cores {os.cpu_count()}, torch threads {threads}")
    for n in args.sizes:
        rows: dict[str, list[dict]] = {}
        for r in range(args.rounds):
            for mode in args.modes:
                rows.setdefault(f"proteolabel[{mode}]", []).append(
                    _child(_CHILD, str(n), str(args.epochs), mode))
            if args.keras_python:
                rows.setdefault("keras (method)", []).append(
                    _keras(args.keras_python, n, args.epochs))
            for lib in ("numpy", "torch"):
                rows.setdefault(f"bare products ({lib} BLAS)", []).append(_child(_BARE, str(n), lib))
            print(f"  n={n} round {r + 1}/{args.rounds} done", flush=True)
        med = {k: statistics.median(x.get("median_epoch_s", x.get("epoch_products_s")) for x in v)
               for k, v in rows.items()}
        peak = {k: max(x.get("peak_rss_mb", 0) for x in v) for k, v in rows.items()}
        fastest_bare = min(v for k, v in med.items() if k.startswith("bare"))
        print(f"\nn = {n} x 1296, batch 128, median s/epoch over {args.rounds} interleaved rounds")
        print(f"{'':34s} {'s/epoch':>9s} {'vs bare':>8s} {'vs keras':>9s} {'peak MB':>8s}")
        for k, v in med.items():
            vk = f"{v / med['keras (method)']:.2f}x" if "keras (method)" in med else "-"
            pk = f"{peak[k]:.0f}" if peak[k] else "-"
            print(f"{k:34s} {v:9.4f} {v / fastest_bare:7.2f}x {vk:>9s} {pk:>8s}")

    if not args.skip_demo:
        X = "import numpy as np; from proteolabel.models import VAEEmbedder; import time, json\n"
        X += ("x=np.random.default_rng(0).random((210,1296),dtype=np.float32); t=time.perf_counter()\n"
              "VAEEmbedder(epochs=500, random_state=0).fit(x)\n"
              "print(json.dumps({'s': time.perf_counter()-t}))")
        t500 = _child(X)["s"]
        print(f"\n500 epochs on 210 x 1296 (the demo's size): {t500:.1f} s")
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "proteolabel.cli", "-q", "demo", "--out", d],
                           check=True, capture_output=True)
            print(f"whole `proteolabel demo` (default settings): {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
