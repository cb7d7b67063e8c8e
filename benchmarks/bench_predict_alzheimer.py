"""Issue 5's "done when": train on a random half of the Alzheimer CSF cohort, label the other half.

Run from the repository root::

    python benchmarks/bench_predict_alzheimer.py [--seed 0] [--epochs 500] [--threads N]
        [--tune-fraction 0.3] [--no-stratify] [--json FILE]

Steps: read the bundled cohort (210 CSF proteomes, label: ``_collection site``), draw a random
half with ``--seed`` (stratified by site, so that both halves hold the sites in the same
proportions and the two figures compare like for like; ``--no-stratify`` for a plain one), run
the whole job on it (VAE, eps tuned on a ``--tune-fraction`` of its labelled samples, DBSCAN),
train the label model on its clusters, then predict the unseen half.

Printed figures (labels from the cluster-to-label mapping, matched by majority on the first
half's tune samples; the same mapping for both figures):

- **clusters, first half**: share of the first half's labelled samples whose cluster's label is
  their true site (noise counts as wrong);
- **predictions, unseen half**: share of the unseen half's labelled samples whose predicted
  label is their true site (every sample gets a prediction; also shown without the samples
  flagged "unlike the training data");
- the classifier's cross-validated accuracy against the clusters.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
import pandas as pd


def _agree(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, int]:
    has = np.array([t is not None and t == t for t in truth])  # t == t: not NaN
    ok = np.array([p is not None and p == t for p, t in zip(predicted, truth, strict=True)])
    return float(ok[has].mean()) if has.any() else float("nan"), int(has.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=500, help="VAE epochs (the method: 500)")
    parser.add_argument("--tune-fraction", type=float, default=None,
                        help="share of the first half's labelled samples that tune eps "
                             "(default: the demo's, 0.3)")
    parser.add_argument("--no-stratify", action="store_true",
                        help="a plain random half instead of one stratified by site")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from proteolabel import _constants as K
    from proteolabel import datasets
    from proteolabel._label_model import LabelModel
    from proteolabel._pipeline import RunConfig, run

    t0 = time.perf_counter()
    full = datasets.alzheimer_csf()
    site = full.obs[datasets.DEMO_LABEL_COLUMN].astype(object).to_numpy()
    if args.no_stratify:
        order = np.random.default_rng(args.seed).permutation(full.n_obs)
        first, unseen = np.sort(order[: full.n_obs // 2]), np.sort(order[full.n_obs // 2 :])
    else:
        from sklearn.model_selection import train_test_split

        groups = np.array(["(none)" if t is None or t != t else str(t) for t in site])
        first, unseen = (np.sort(h) for h in train_test_split(
            np.arange(full.n_obs), train_size=full.n_obs // 2, stratify=groups,
            random_state=args.seed))
    tune_fraction = (datasets.DEMO_TUNE_FRACTION if args.tune_fraction is None
                     else args.tune_fraction)

    cfg = RunConfig(input=str(datasets.alzheimer_csf_path()), format="generic",
                    samples_in="rows", label_column=datasets.DEMO_LABEL_COLUMN,
                    tune_fraction=tune_fraction, epochs=args.epochs, seed=args.seed,
                    out=None, progress=False)
    t = time.perf_counter()
    result = run(cfg, adata=full[first].copy())
    t_run = time.perf_counter() - t
    t = time.perf_counter()
    model = LabelModel.from_run(result)
    t_train = time.perf_counter() - t
    mapping = model.cluster_to_label

    obs = result.adata.obs
    clusters = obs[K.OBS_CLUSTER].to_numpy()
    cluster_label = np.array([mapping.get(int(c)) if c >= 0 else None for c in clusters],
                             dtype=object)
    tune = obs[K.OBS_TUNE].to_numpy(bool)
    acc_first, n_first = _agree(site[first], cluster_label)
    acc_first_heldout, n_first_heldout = _agree(
        np.where(tune, None, site[first]), cluster_label
    )
    noise = clusters < 0

    t = time.perf_counter()
    df = model.predict(full[unseen].copy())
    t_pred = time.perf_counter() - t
    pred = df["predicted_label"].to_numpy(dtype=object)
    flagged = df["unlike_training"].to_numpy(bool)
    acc_unseen, n_unseen = _agree(site[unseen], pred)
    acc_unseen_ok, n_unseen_ok = _agree(np.where(flagged, None, site[unseen]), pred)
    cv = model.report["cv"]
    # like for like: only samples whose true site some cluster stands for (the others cannot be
    # right whatever the model does), and how each true site was labelled
    reachable = {v for v in mapping.values() if v is not None}
    acc_first_r, n_first_r = _agree(
        np.array([t if t in reachable else None for t in site[first]], dtype=object),
        cluster_label,
    )
    acc_unseen_r, n_unseen_r = _agree(
        np.array([t if t in reachable else None for t in site[unseen]], dtype=object), pred
    )
    table_first = pd.crosstab(pd.Series(site[first], name="true site"),
                              pd.Series(cluster_label, name="cluster label").fillna("(noise)"))
    table_unseen = pd.crosstab(pd.Series(site[unseen], name="true site"),
                               pd.Series(pred, name="predicted label").fillna("(none)"))

    figures = {
        "seed": args.seed,
        "stratified_halves": not args.no_stratify,
        "vae_epochs": args.epochs,
        "tune_fraction": tune_fraction,
        "n_first_half": int(first.size),
        "n_unseen_half": int(unseen.size),
        "eps": model.eps,
        "n_clusters": int(model.classes.size),
        "cluster_to_label": {str(k): v for k, v in mapping.items()},
        "matching": model.matching,
        "clusters_first_half": {"agreement": acc_first, "n_labelled": n_first,
                                "n_noise": int(noise.sum())},
        "clusters_first_half_not_tune": {"agreement": acc_first_heldout,
                                         "n_labelled": n_first_heldout},
        "predictions_unseen_half": {"agreement": acc_unseen, "n_labelled": n_unseen},
        "clusters_first_half_reachable_sites": {"agreement": acc_first_r,
                                                "n_labelled": n_first_r},
        "predictions_unseen_half_reachable_sites": {"agreement": acc_unseen_r,
                                                    "n_labelled": n_unseen_r},
        "table_first_half": table_first.to_dict(),
        "table_unseen_half": table_unseen.to_dict(),
        "predictions_unseen_half_not_flagged": {"agreement": acc_unseen_ok,
                                                "n_labelled": n_unseen_ok,
                                                "n_flagged": int(flagged.sum())},
        "flag_reasons": dict(Counter(r for rs in df["unlike_reason"] for r in rs.split(";") if r)),
        "classifier_cv": {k: cv.get(k) for k in ("method", "accuracy", "accuracy_std",
                                                 "balanced_accuracy", "balanced_accuracy_std")},
        "classifier_heldout_agreement": model.report["agreement"],
        "timings_s": {"run": t_run, "train_classifier": t_train, "predict": t_pred,
                      "total": time.perf_counter() - t0},
    }
    print(f"alzheimer-csf-omiclearn, label '_collection site', seed {args.seed}: "
          f"{first.size} samples to train on, {unseen.size} unseen"
          f"{'' if args.no_stratify else ' (halves stratified by site)'}")
    print(f"  run: eps={model.eps:.4g}, {model.classes.size} clusters "
          f"({', '.join(f'{c}->{lab}' for c, lab in mapping.items())}), {int(noise.sum())} noise")
    print(f"  clusters vs true site, first half:         {acc_first:.3f}  "
          f"({n_first} labelled samples; noise counts as wrong)")
    print(f"    of which not tune samples:               {acc_first_heldout:.3f}  "
          f"({n_first_heldout})")
    print(f"  predictions vs true site, unseen half:     {acc_unseen:.3f}  "
          f"({n_unseen} labelled samples)")
    print(f"    without the {int(flagged.sum())} flagged 'unlike training':  {acc_unseen_ok:.3f}  "
          f"({n_unseen_ok})")
    print(f"  only true sites a cluster stands for ({', '.join(sorted(reachable))}): "
          f"clusters, first half {acc_first_r:.3f} ({n_first_r}); "
          f"predictions, unseen half {acc_unseen_r:.3f} ({n_unseen_r})")
    print("  first half, true site x cluster label:")
    print("    " + table_first.to_string().replace("\n", "\n    "))
    print("  unseen half, true site x predicted label:")
    print("    " + table_unseen.to_string().replace("\n", "\n    "))
    print(f"  classifier vs clusters ({cv.get('method', 'no CV')}): accuracy "
          f"{cv.get('accuracy', float('nan')):.3f}, balanced accuracy "
          f"{cv.get('balanced_accuracy', float('nan')):.3f}")
    verdict = "MET" if acc_unseen >= acc_first else "NOT MET"
    verdict_r = "MET" if acc_unseen_r >= acc_first_r else "NOT MET"
    print(f"  done-when (unseen predictions >= first-half clusters): {verdict}; "
          f"on the sites a cluster stands for: {verdict_r}")
    print(f"  time: run {t_run:.0f}s, classifier {t_train:.0f}s, predict {t_pred:.1f}s")
    if args.json:
        from proteolabel._pipeline import _jsonable

        with open(args.json, "w") as fh:
            json.dump(_jsonable(figures), fh, indent=2)


if __name__ == "__main__":
    main()
