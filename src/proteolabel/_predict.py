"""What the command line calls to train a label model after a run and to label a new file."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from proteolabel._label_model import LabelModel, UnlikeRule

if TYPE_CHECKING:
    from proteolabel._pipeline import RunResult

log = logging.getLogger(__name__)

#: Files :func:`predict_file` writes.
PREDICTIONS_FILE = "predictions.csv"
PREDICT_REPORT_FILE = "predict.json"


def train_label_model(
    result: RunResult,
    out_dir: str | Path | None = None,
    *,
    classifier: Any = None,
    cv: int = 5,
    rule: UnlikeRule | None = None,
    random_state: int | None = None,
    verbose: bool = False,
) -> LabelModel:
    """Train a :class:`~proteolabel._label_model.LabelModel` on a run and save it.

    Parameters
    ----------
    result
        What :func:`proteolabel.run` returned.
    out_dir
        Model folder to write (``None``: do not save).
    classifier, cv, rule, random_state, verbose
        See :meth:`LabelModel.from_run`.

    Returns
    -------
    LabelModel

    """
    model = LabelModel.from_run(
        result, classifier=classifier, cv=cv, rule=rule, random_state=random_state,
        verbose=verbose,
    )
    cvr = model.report.get("cv", {})
    if cvr.get("defined"):
        log.info(
            "classifier: %s: accuracy %.3f, balanced accuracy %.3f against the clusters",
            cvr["method"], cvr["accuracy"], cvr["balanced_accuracy"],
        )
    if out_dir is not None:
        model.save(out_dir)
    return model


def predict_file(
    model_dir: str | Path,
    input: str | Path,
    out_dir: str | Path | None = None,
    *,
    format: str = "infer",
    quantity: str | None = None,
    samples_in: str = "auto",
    reader_options: dict[str, Any] | None = None,
    rule: UnlikeRule | Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Label the samples of a quantification file with a saved model.

    Reads ``input`` with :func:`proteolabel.io.read` (any supported format), applies the model
    (see :meth:`LabelModel.predict`) and, with ``out_dir``, writes ``predictions.csv`` (one row
    per sample) and ``predict.json`` (what was read, protein matching, flags, the rule, the
    model's training report and versions).

    Parameters
    ----------
    model_dir
        A model folder (``OUT/model`` of a run).
    input
        The file to label.
    out_dir
        Output folder (created); ``None`` writes nothing.
    format, quantity, samples_in, reader_options
        Passed to :func:`proteolabel.io.read`.
    rule
        Override the model's "unlike the training data" rule: a whole
        :class:`~proteolabel._label_model.UnlikeRule`, or a mapping of the fields to change
        (``{"distance_factor": 3}``); ``None`` keeps the stored rule.

    Returns
    -------
    The predictions and the report.

    """
    from proteolabel._pipeline import _jsonable, _versions
    from proteolabel.io import read

    t0 = time.perf_counter()
    model = LabelModel.load(model_dir)
    if isinstance(rule, Mapping):
        rule = dataclasses.replace(model.rule, **{k: v for k, v in rule.items() if v is not None})
    adata = read(input, format=format, quantity=quantity, samples_in=samples_in,
                 **(reader_options or {}))
    t_read = time.perf_counter() - t0
    t = time.perf_counter()
    predictions, report = model.predict_with_report(adata, rule=rule)
    read_info = dict(adata.uns.get("read", {}))
    full = {
        "input": str(input),
        "model": str(model_dir),
        "read": read_info,
        **report,
        "model_info": {
            "clusters": {str(k): v for k, v in model.cluster_to_label.items()},
            "eps": model.eps,
            "n_proteins": len(model.proteins),
            "training": model.report,
            "versions": model.versions,
        },
        "versions": _versions(),
        "timings_s": {"load_and_read": t_read, "predict": time.perf_counter() - t},
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        predictions.to_csv(out / PREDICTIONS_FILE, index=False)
        (out / PREDICT_REPORT_FILE).write_text(json.dumps(_jsonable(full), indent=2))
    return predictions, full
