"""Time the whole ``proteolabel demo`` (default settings) and its peak memory.

Usage::

    python benchmarks/bench_demo.py [--repeats 3]

Each repeat runs the demo in a fresh process under ``/usr/bin/time -v`` (falling back to
``resource`` when that is absent) and prints wall seconds, peak RSS and the stage timings that
the run recorded in ``run.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def once() -> dict:
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "proteolabel.cli", "-q", "demo", "--out", d]
        timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
        t0 = time.perf_counter()
        if timer:
            p = subprocess.run([timer, "-v", *cmd], capture_output=True, text=True, check=True)
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
            peak = int(m.group(1)) / 1024 if m else float("nan")
        else:
            import resource

            subprocess.run(cmd, check=True, capture_output=True)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        wall = time.perf_counter() - t0
        info = json.loads((Path(d) / "run.json").read_text())
    return {"wall_s": wall, "peak_mb": peak, "stages": info["timings_s"],
            "heldout": info["metrics"]["heldout"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    runs = []
    for i in range(args.repeats):
        r = once()
        runs.append(r)
        st = ", ".join(f"{k} {v:.1f}s" for k, v in r["stages"].items())
        print(f"run {i + 1}: {r['wall_s']:.1f} s wall, peak {r['peak_mb']:.0f} MB ({st})", flush=True)
    print(f"median wall {statistics.median(r['wall_s'] for r in runs):.1f} s over {len(runs)} runs "
          f"(target: under 120 s); held-out V-measure {runs[-1]['heldout'].get('v_measure')}")


if __name__ == "__main__":
    main()
