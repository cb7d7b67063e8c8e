"""Running the settings of a study: one task per setting, in parallel processes, with progress."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

#: Set in the worker processes of a parallel run: each trains with one torch thread.
_ONE_THREAD = False

#: Embeddings a study can use. ``"vae"`` is the method; ``"pca"`` is a linear reference that
#: shows what the data hold, independent of how well the VAE trains.
EMBEDDINGS = ("vae", "pca")


def embed(
    X: np.ndarray,
    *,
    embedding: str = "vae",
    epochs: int = 500,
    random_state: int = 0,
    device: str = "auto",
    vae_params: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Compress ``X`` to two dimensions with the method's VAE (or PCA, for reference).

    Parameters
    ----------
    X
        Samples x features within [0, 1].
    embedding
        ``"vae"``: :class:`proteolabel.models.VAEEmbedder` with the method's defaults (plus
        ``vae_params``); ``"pca"``: the first two principal components.
    epochs
        VAE training epochs.
    random_state
        Seed of the VAE (or of PCA's randomised solver).
    device
        Where the VAE trains (see :class:`~proteolabel.models.VAEEmbedder`).
    vae_params
        Further :class:`~proteolabel.models.VAEEmbedder` parameters (``beta``, ...).

    Returns
    -------
    Z : ndarray of shape (n_samples, 2)
        The latent means (or principal components).
    info : dict
        ``fit_seconds`` and, for the VAE, the last epoch's ``loss`` and ``kl`` (a KL near 0
        means the latent carries next to no information: posterior collapse).

    """
    if embedding not in EMBEDDINGS:
        raise ValueError(f"embedding must be one of {EMBEDDINGS}, got {embedding!r}")
    t0 = time.perf_counter()
    if embedding == "pca":
        from sklearn.decomposition import PCA

        Z = PCA(n_components=2, random_state=random_state).fit_transform(X)
        return Z, {"fit_seconds": time.perf_counter() - t0, "loss": np.nan, "kl": np.nan}
    from proteolabel.models import VAEEmbedder

    if _ONE_THREAD:
        import torch

        torch.set_num_threads(1)  # process-local: this worker process only
    params = {"epochs": epochs, "random_state": random_state, "device": device}
    params.update(vae_params or {})
    est = VAEEmbedder(**params).fit(X)
    Z = est.transform(X)
    hist = est.history_
    return Z, {
        "fit_seconds": time.perf_counter() - t0,
        "loss": float(hist["loss"].iloc[-1]),
        "kl": float(hist["kl"].iloc[-1]),
    }


def _call(fn: Callable[..., Any], task: Mapping[str, Any], one_thread: bool) -> tuple[Any, str]:
    """Run one task; in a worker process of a parallel run, with one torch thread."""
    global _ONE_THREAD
    _ONE_THREAD = one_thread
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(**task)
    seen: list[str] = []
    for w in caught:
        msg = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if msg not in seen:
            seen.append(msg)
    return out, " | ".join(seen)


def effective_jobs(n_jobs: int | None, n_tasks: int) -> int:
    """Count the processes to use: ``None`` or -1 is every core (-2 all but one, and so on)."""
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs < 0:
        n = cores + 1 + (n_jobs if n_jobs is not None else -1)
    else:
        n = n_jobs
    return max(1, min(int(n), n_tasks))


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[Mapping[str, Any]],
    *,
    n_jobs: int | None = -1,
    progress: bool = True,
    desc: str = "study",
    cost: Callable[[Mapping[str, Any]], float] | None = None,
) -> list[tuple[Any, str]]:
    """Run ``fn(**task)`` for every task, in parallel processes when that helps.

    Tasks are started in decreasing ``cost`` (the largest first, which balances the load) and
    the results returned in the order of ``tasks``. Warnings raised inside a task are caught
    and returned beside its result as one string, so a run never fails on a warning and the
    warning still reaches the output table.

    Parameters
    ----------
    fn
        A module-level function (it is sent to worker processes).
    tasks
        Keyword arguments of each call.
    n_jobs
        Processes (``None`` or -1: every core). With more than one, torch uses one thread per
        process.
    progress
        Show a tqdm progress bar over the tasks.
    desc
        The progress bar's label.
    cost
        Relative cost of a task, to start the largest first.

    Returns
    -------
    list of (result, warnings)
        One pair per task, in the order given.

    """
    from tqdm.auto import tqdm

    order = list(range(len(tasks)))
    if cost is not None:
        order.sort(key=lambda i: -cost(tasks[i]))
    jobs = effective_jobs(n_jobs, len(tasks))
    results: dict[int, tuple[Any, str]] = {}
    bar = tqdm(total=len(tasks), desc=desc, unit="run", disable=not progress)
    try:
        if jobs == 1:
            for i in order:
                results[i] = _call(fn, tasks[i], one_thread=False)
                bar.update()
        else:
            from joblib import Parallel, delayed

            par = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
            calls = (delayed(_indexed)(i, fn, tasks[i]) for i in order)
            for i, res in par(calls):
                results[i] = res
                bar.update()
    finally:
        bar.close()
    return [results[i] for i in range(len(tasks))]


def _indexed(i: int, fn: Callable[..., Any], task: Mapping[str, Any]) -> tuple[int, Any]:
    return i, _call(fn, task, one_thread=True)
