"""Benchmark: aggregate a generated DIA-NN-style report.parquet with bounded memory.

Writes a DIA-NN-like long report (one row per run and precursor; ``Run``, ``Protein.Group``,
``Precursor.Id``, ``PG.MaxLFQ``, ``Precursor.Quantity``, ``Q.Value``, ``PG.Q.Value`` plus
columns the reader must not load), then reads it with ``proteolabel.io.read`` in a child
process and prints the wall time and that process's peak resident memory. The result is
checked against the generated protein values.

    python benchmarks/bench_read_diann.py                 # 2 million rows, about a minute
    python benchmarks/bench_read_diann.py --rows 20000000 # the issue's 20-million-row target

Target: peak RSS under 2 GB for 20 million rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHUNK = 1_000_000


def shape_for(rows: int, runs: int) -> tuple[int, int, int]:
    """Return (runs, proteins, precursors per protein) giving about ``rows`` rows."""
    per_run = max(1, rows // runs)
    per_protein = 6
    proteins = max(1, per_run // per_protein)
    return runs, proteins, per_protein


def expected_maxlfq(runs: int, proteins: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(18, 2, size=(runs, proteins)))


def generate(path: Path, rows: int, runs: int, seed: int) -> int:
    """Write the report in chunks (the generator itself stays small in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    runs, proteins, per_protein = shape_for(rows, runs)
    maxlfq = expected_maxlfq(runs, proteins, seed)
    run_names = pa.array([f"D:\\DIA\\plate_{i // 96:02d}\\run_{i:05d}.raw" for i in range(runs)])
    short_runs = pa.array([f"run_{i:05d}" for i in range(runs)])
    protein_names = pa.array([f"P{i:05d};P{i:05d}-2" if i % 7 == 0 else f"P{i:05d}"
                              for i in range(proteins)])
    n_prec = proteins * per_protein
    precursor_names = pa.array([f"PEPTIDE{i}K2" for i in range(n_prec)])
    rng = np.random.default_rng(seed + 1)
    total = runs * n_prec
    writer = None
    written = 0
    try:
        for start in range(0, total, CHUNK):
            idx = np.arange(start, min(start + CHUNK, total), dtype=np.int64)
            run = (idx // n_prec).astype(np.int32)
            prec = (idx % n_prec).astype(np.int32)
            prot = (prec // per_protein).astype(np.int32)
            n = len(idx)
            qv = rng.uniform(0, 0.02, n)
            table = pa.table({
                "File.Name": pa.DictionaryArray.from_arrays(run, run_names),
                "Run": pa.DictionaryArray.from_arrays(run, short_runs),
                "Protein.Group": pa.DictionaryArray.from_arrays(prot, protein_names),
                "Precursor.Id": pa.DictionaryArray.from_arrays(prec, precursor_names),
                "Precursor.Quantity": np.exp(rng.normal(15, 2, n)),
                "PG.MaxLFQ": maxlfq[run, prot],
                "Q.Value": qv,
                "PG.Q.Value": rng.uniform(0, 0.005, n),
                "RT": rng.uniform(0, 120, n),
                "Ms1.Area": rng.uniform(0, 1e7, n),
            })
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=CHUNK)
            written += n
    finally:
        if writer is not None:
            writer.close()
    return written


def aggregate(path: str, runs: int, proteins: int, seed: int) -> None:
    """Child process: read, check, report timing as JSON on stdout."""
    import warnings

    from proteolabel.io import read

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adata = read(path)
    seconds = time.perf_counter() - start
    want = expected_maxlfq(runs, proteins, seed)
    run_index = [int(r.split("_")[1]) for r in adata.obs_names]
    prot_index = [int(p.split(";")[0][1:]) for p in adata.var_names]
    got = adata.X
    ref = want[np.ix_(run_index, prot_index)]
    observed = ~np.isnan(got)
    ok = bool(np.allclose(got[observed], ref[observed], rtol=1e-12))
    info = adata.uns["read"]
    print(json.dumps({
        "seconds": seconds, "n_samples": adata.n_obs, "n_proteins": adata.n_vars,
        "values_match": ok, "dropped": info["dropped"], "quantity": info["quantity"],
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="report rows to generate")
    parser.add_argument("--runs", type=int, default=100, help="number of runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write the report here and keep it")
    parser.add_argument("--aggregate", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    runs, proteins, _ = shape_for(args.rows, args.runs)
    if args.aggregate:
        aggregate(args.aggregate, runs, proteins, args.seed)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "report.parquet"
        t0 = time.perf_counter()
        rows = generate(path, args.rows, args.runs, args.seed)
        gen = time.perf_counter() - t0
        size = path.stat().st_size / 2**20
        print(f"generated {rows:,} rows ({runs} runs x {proteins:,} proteins), "
              f"{size:.0f} MiB parquet, in {gen:.1f} s")
        child = subprocess.run(
            [sys.executable, __file__, "--aggregate", str(path), "--rows", str(args.rows),
             "--runs", str(args.runs), "--seed", str(args.seed)],
            check=True, capture_output=True, text=True,
        )
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"read + aggregate: {result['seconds']:.1f} s, peak RSS {peak_mib:.0f} MiB "
          f"(target < 2048 MiB); {result['n_samples']} samples x {result['n_proteins']:,} "
          f"proteins; values match: {result['values_match']}; dropped: {result['dropped']}")
    if not result["values_match"] or peak_mib >= 2048:
        sys.exit(1)


if __name__ == "__main__":
    main()
