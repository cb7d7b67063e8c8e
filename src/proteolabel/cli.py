"""The ``proteolabel`` command line. The only place that configures logging."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import click

from proteolabel import __version__

log = logging.getLogger("proteolabel")


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """One line per warning: its category and message, not the source line that raised it."""
    return f"{category.__name__}: {message}"  # the log handler ends the line


def _setup_logging(verbose: int, quiet: bool) -> None:
    """Log proteolabel's own messages at the chosen level; other libraries' at WARNING only."""
    import warnings

    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if verbose < 3 else logging.DEBUG)
    logging.getLogger("proteolabel").setLevel(level)
    warnings.formatwarning = _format_warning
    logging.captureWarnings(True)


class _Failure(click.ClickException):
    def format_message(self) -> str:
        return self.message


def _fail_clearly(fn):
    """Turn the library's ValueError/FileNotFoundError into a one-line CLI error (no traceback)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, FileNotFoundError, KeyError, ImportError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            raise _Failure(str(msg)) from exc

    return wrapper


_GLOBAL_FLAGS = re.compile(r"^(-q|--quiet|-v+|--verbose)$")


class _Group(click.Group):
    """Accept -q/-v after the subcommand too (``proteolabel run x.txt -q``), as users type them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            head, tail = args[: args.index("--")], args[args.index("--"):]
        else:
            head, tail = args, []
        flags = [a for a in head if _GLOBAL_FLAGS.match(a)]
        rest = [a for a in head if not _GLOBAL_FLAGS.match(a)]
        return super().parse_args(ctx, [*flags, *rest, *tail])


@click.group(cls=_Group,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="proteolabel")
@click.option("-v", "--verbose", count=True,
              help="More log output (-vv: debug; -vvv: also other libraries' debug output).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Label proteomics samples without supervision: VAE latent space + DBSCAN tuned on labels."""
    _setup_logging(verbose, quiet)
    # progress bars only on a terminal: redrawn into a log file they are hundreds of lines
    ctx.obj = {"quiet": quiet, "progress": not quiet and sys.stderr.isatty()}


def _option_value(text: str):
    """Parse a reader option's value from the command line: bool, int, float, or text."""
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parse_reader_options(ctx, param, values) -> dict:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (for example q_value=0.05)",
                                     ctx=ctx, param=param)
        out[key] = _option_value(value)
    return out


def _reader_options(fn):
    """``--option KEY=VALUE`` (repeatable) and ``--missing-tokens``: passed on to the reader."""
    fn = click.option(
        "--missing-tokens", default=None, metavar="TOKENS",
        help="Comma-separated cell texts that mean missing (case-insensitive), replacing the "
             "default list (blank, NaN, NA, N/A, #N/A, Filtered, ...); 0 is always missing.",
    )(fn)
    return click.option(
        "--option", "reader_options", multiple=True, metavar="KEY=VALUE",
        callback=_parse_reader_options,
        help="A reader option, repeatable: e.g. q_value=0.05, keep_contaminants=true, "
             "sheet=data, delimiter=';', id_column='Gene names'. `proteolabel formats` lists "
             "each format's options.",
    )(fn)


def _merge_reader_options(reader_options: dict, missing_tokens: str | None) -> dict:
    opts = dict(reader_options)
    if missing_tokens is not None:
        opts["missing_tokens"] = [t.strip() for t in missing_tokens.split(",")]
    return opts


def _run_options(fn):
    opts = [
        click.option("--out", "-o", type=click.Path(file_okay=False), default="proteolabel_out",
                     show_default=True, help="Output folder (created; files in it are replaced)."),
        click.option("--tune-fraction", type=click.FloatRange(0, 1, min_open=True), default=None,
                     help="Stratified share of the labelled samples used to tune eps; the rest "
                          "are held out to measure the result. [default: 1, or 0.3 for demo]"),
        click.option("--min-samples", type=click.IntRange(1), default=10, show_default=True,
                     help="DBSCAN min_samples (counts the point itself; the method: 10)."),
        click.option("--n-eps", type=click.IntRange(2), default=100, show_default=True,
                     help="Number of eps values in the sweep."),
        click.option("--epochs", type=click.IntRange(1), default=500, show_default=True,
                     help="VAE training epochs."),
        click.option("--batch-size", type=click.IntRange(1), default=128, show_default=True,
                     help="VAE batch size."),
        click.option("--learning-rate", type=click.FloatRange(0, min_open=True), default=1e-3,
                     show_default=True, help="Adam learning rate."),
        click.option("--beta", type=click.FloatRange(0), default=1.0, show_default=True,
                     help="Weight of the KL term (lower spreads the latent)."),
        click.option("--kl-warmup-epochs", type=click.IntRange(0), default=0, show_default=True,
                     help="Epochs over which the KL weight rises from 0 to --beta."),
        click.option("--top-n", type=click.IntRange(1), default=1296, show_default=True,
                     help="Keep the N most abundant proteins (all if fewer)."),
        click.option("--scale", type=click.Choice(["max", "minmax"]), default="max",
                     show_default=True, help="Per-protein scaling of log2 values to [0, 1]."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Random seed: same seed, same result on the same machine."),
        click.option("--device", default="auto", show_default=True,
                     help="'auto' (GPU if present), 'cpu', 'cuda' or 'cuda:N'."),
        click.option("--precision", type=click.Choice(["float32", "mixed", "bfloat16"]),
                     default="float32", show_default=True,
                     help="Precision of the VAE's matrix products: float32; mixed (bfloat16 "
                          "inputs in the output layer's products, CPUs with bfloat16 "
                          "instructions); bfloat16 (all products, for GPUs)."),
        click.option("--consensus-runs", type=click.IntRange(0), default=0, show_default=True,
                     help="Train the VAE this many times in all (other seeds), cluster each, "
                          "and add a consensus cluster and per-sample agreement to labels.csv "
                          "(0: off)."),
        click.option("--no-classifier", "no_classifier", is_flag=True,
                     help="Do not train the classifier on the clusters (no model for "
                          "`proteolabel predict`)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _report(result, out: Path) -> None:
    """Print a run's summary: what was used, what was found, how well it matches known labels."""
    info = result.info
    c = info["counts"]
    plural = "" if c["clusters"] == 1 else "s"
    click.echo(
        f"{c['samples_in_input']} samples ({c['samples_excluded']} excluded), "
        f"{c['proteins_used']} of {c['proteins_in_input']} proteins used; "
        f"eps={info['eps']:.4g} (min_samples={info['min_samples']}, "
        f"{'chosen on tune samples' if info.get('eps_supervised') else 'unsupervised rule'}): "
        f"{c['clusters']} cluster{plural}, {c['noise_samples']} noise samples."
    )
    eps_info = info.get("eps_search") or {}
    if not info.get("eps_supervised") and eps_info.get("stability") is not None:
        st = eps_info["stability"]
        click.echo(f"  eps by the {eps_info['rule'].replace('unsupervised ', '')}: labels at the "
                   f"neighbouring eps values agree with ARI {st:.2f} (1 = unchanged); "
                   "labelled tune samples would choose eps more reliably")
    if c.get("labelled_samples"):
        obs = result.adata.obs
        groups = obs["label"].dropna().nunique() if "label" in obs else 0
        unlabelled = c["samples_in_input"] - c["labelled_samples"]
        source = info.get("label_source")
        click.echo(
            f"  known labels{f' ({source})' if source else ''}: {c['labelled_samples']} "
            f"samples in {groups} groups"
            + (f" ({unlabelled} unlabelled)" if unlabelled else "")
            + f"; {c['tune_samples']} tune samples choose eps, {c['heldout_samples']} are held "
            "out to score the result"
            + _tune_rounding_note(info)
            + (f" ({c['labelled_excluded']} labelled but excluded: neither)"
               if c.get("labelled_excluded") else "")
        )
        unmatched = _groups_without_cluster(result.adata)
        if unmatched:
            click.echo(f"  no cluster stands for {len(unmatched)} of the {groups} known groups: "
                       f"{', '.join(unmatched)} (no cluster's tune samples are mostly of that "
                       "group; labels.csv -> cluster_label)")
    r2 = (info.get("vae") or {}).get("reconstruction_r2")
    if r2 is not None and r2 == r2:
        click.echo(f"  VAE reconstruction: R² {r2:.2f} of the proteins' between-sample variance "
                   "(1 = every sample reproduced, 0 = no better than each protein's mean)")
    share = (info.get("vae") or {}).get("latent_axis_share") or []
    if len(share) >= 2 and share[-1] == share[-1] and share[-1] < 0.01:
        click.echo(f"  latent: effectively {sum(v >= 0.01 for v in share)}-D: the points lie "
                   f"along a line (its second principal axis holds {share[-1] * 100:.2g}% of the "
                   "spread; see latent.png)")
    metrics = info["metrics"] or {}
    for name in ("tune", "heldout"):
        m = metrics.get(name)
        if not m or not m.get("n_samples"):
            continue
        if m.get("defined", True):
            click.echo(
                f"  {name:8s} ({m['n_samples']} samples): V-measure {m.get('v_measure', float('nan')):.3f}, "
                f"homogeneity {m.get('homogeneity', float('nan')):.3f}, "
                f"completeness {m.get('completeness', float('nan')):.3f}, "
                f"ARI {m.get('ari', float('nan')):.3f}"
            )
            if m.get("note"):
                click.echo(f"           note: {m['note']}")
        else:
            nc = m.get("n_clusters", "?")
            why = (f"{m.get('n_classes', '?')} known groups and {nc} "
                   f"cluster{'' if nc == 1 else 's'} among them; scores need at least two of each")
            click.echo(f"  {name:8s} ({m['n_samples']} samples): scores undefined ({why})")
    if any((metrics.get(n) or {}).get("defined") for n in ("tune", "heldout")):
        click.echo("  (V-measure: harmonic mean of homogeneity (each cluster holds one label) and "
                   "completeness (each label in one cluster), 1 = perfect; ARI: 0 = chance, "
                   "1 = perfect)")
    held = metrics.get("heldout") or {}
    if (held.get("defined") and held.get("ari") is not None and held["ari"] < 0.05
            and not held.get("note")):
        click.echo(f"  note: held-out ARI {held['ari']:.3f} is at chance level: the clusters do "
                   "not recover the known groups on samples not used for tuning")
    if metrics.get("heldout_note"):
        click.echo("  note: " + metrics["heldout_note"])
    cons = info.get("consensus")
    if cons:
        click.echo(f"  consensus of {cons['n_runs']} VAE runs (other seeds): mean ARI between "
                   f"runs {cons['mean_pairwise_ari']:.2f}, median per-sample agreement "
                   f"{cons['median_agreement']:.2f} (labels.csv: consensus_cluster, agreement)")
        if cons.get("stable") is False:
            click.echo("  note: the runs disagree (mean ARI < 0.5): the clusters depend on the "
                       "VAE's seed; prefer consensus_cluster and check each sample's agreement")
    clf = info.get("classifier")
    if clf and clf.get("trained") and clf["cv"].get("defined"):
        click.echo(
            f"  classifier ({clf['cv']['method']}): reproduces the clusters (not the known "
            f"labels) with accuracy {clf['cv']['accuracy']:.3f}, balanced accuracy "
            f"{clf['cv']['balanced_accuracy']:.3f}"
        )
        if (clf.get("classifier") or {}).get("cv_at_chance_level"):
            click.echo("  note: that is chance level: the classifier does not tell the clusters "
                       "apart on unseen samples, so `predict` would be guessing")
    elif clf and not clf.get("trained"):
        click.echo("  note: " + clf["reason"])
    model = "model/" if clf and clf.get("trained") else "model/ (no classifier: no `predict`)"
    click.echo(f"Wrote {out} (labels.csv, latent.csv, eps_sweep.csv, result.h5ad, run.json, "
               f"latent.png, eps_sweep.png, training_loss.png, {model})")


def _tune_rounding_note(info) -> str:
    """Say so when per-group rounding moved the tune share well away from --tune-fraction."""
    c = info["counts"]
    asked = (info.get("config") or {}).get("tune_fraction")
    n = c["labelled_samples"] - c.get("labelled_excluded", 0)
    if not asked or asked >= 1 or n <= 0:
        return ""
    got = c["tune_samples"] / n
    if abs(got - asked) < 0.05:
        return ""
    return (f" (a share of {got:.2f} for --tune-fraction {asked:g}: each group keeps "
            "round(fraction x its size) tune samples, at least one)")


def _groups_without_cluster(adata) -> list[str]:
    """Known groups (among the samples used) that no cluster is named after."""
    import numpy as np
    import pandas as pd

    from proteolabel._pipeline import cluster_labels

    obs = adata.obs
    if "label" not in obs or "cluster" not in obs:
        return []
    used = ~obs["excluded"].to_numpy(bool) if "excluded" in obs else np.ones(len(obs), bool)
    known = sorted({str(v) for v in obs["label"].to_numpy()[used] if pd.notna(v)})
    matched = {str(v) for v in cluster_labels(adata).values()}
    return [g for g in known if g not in matched]


def _config(input, labels, out, opts, progress, **extra):
    from proteolabel._pipeline import RunConfig

    tf = opts.pop("tune_fraction")
    opts["classifier"] = not opts.pop("no_classifier", False)
    return RunConfig(
        input=str(input), labels=None if labels is None else str(labels),
        out=None if out is None else str(out),
        tune_fraction=1.0 if tf is None else tf, progress=progress, **opts, **extra,
    )


@main.command("run")
@click.argument("input", type=click.Path(exists=True, dir_okay=False))
@click.option("--labels", "-l", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Label file (CSV/TSV/XLSX) with a sample column and a label column.")
@click.option("--label-column", default=None,
              help="Label column of the label file, or (without --labels) an annotation column "
                   "of the input, such as '_collection site'.")
@click.option("--sample-column", default=None, help="Sample column of the label file.")
@click.option("--format", "fmt", default="infer", show_default=True,
              help="Input format (see `proteolabel formats`); inferred from name and header.")
@click.option("--quantity", default=None,
              help="Quantity to use where a format has several (MaxQuant: lfq, intensity, ibaq).")
@click.option("--samples-in", type=click.Choice(["auto", "rows", "columns"]), default="auto",
              show_default=True, help="Generic tables: are samples rows or columns?")
@_reader_options
@_run_options
@click.pass_context
@_fail_clearly
def run_cmd(ctx, input, labels, label_column, sample_column, fmt, quantity, samples_in,
            reader_options, missing_tokens, out, **opts):
    """Run the whole job on INPUT: read, preprocess, VAE, eps search, DBSCAN; write OUT."""
    from proteolabel._pipeline import run

    cfg = _config(input, labels, out, opts, ctx.obj["progress"], label_column=label_column,
                  sample_column=sample_column, format=fmt, quantity=quantity,
                  samples_in=samples_in,
                  reader_options=_merge_reader_options(reader_options, missing_tokens))
    result = run(cfg)
    _report(result, Path(out))


@main.command("demo")
@_run_options
@click.pass_context
@_fail_clearly
def demo_cmd(ctx, out, **opts):
    """Run the whole job on the bundled Alzheimer CSF cohort (210 samples, 4 collection sites).

    The collection site is the label: a 0.3 share of the labelled samples tunes eps, the rest
    measure how well the clusters recover the sites.
    """
    from proteolabel import datasets
    from proteolabel._pipeline import run

    if opts["tune_fraction"] is None:
        opts["tune_fraction"] = datasets.DEMO_TUNE_FRACTION
    cfg = _config(datasets.alzheimer_csf_path(), None, out, opts, ctx.obj["progress"],
                  label_column=datasets.DEMO_LABEL_COLUMN, format="generic", samples_in="rows")
    result = run(cfg)
    _report(result, Path(out))


def _parse_methods(ctx, param, value):
    """``--methods a, b``: names stripped, ``-`` read as ``_``; unknown names refused at once."""
    if value is None:
        return None
    from proteolabel._utils import suggest
    from proteolabel.cluster import CLUSTERERS

    names = [m.strip().lower().replace("-", "_") for m in value.split(",") if m.strip()]
    if not names:
        raise click.BadParameter(f"names no clusterer; choose from {', '.join(CLUSTERERS)}",
                                 ctx=ctx, param=param)
    unknown = [m for m in names if m not in CLUSTERERS]
    if unknown:
        hints = "".join(suggest(m, CLUSTERERS) for m in unknown[:1])
        raise click.BadParameter(
            f"unknown clusterer(s) {', '.join(map(repr, unknown))}{hints}; choose from "
            f"{', '.join(CLUSTERERS)}", ctx=ctx, param=param)
    return list(dict.fromkeys(names))


@main.command("compare")
@click.argument("source", type=click.Path(exists=True))
@click.option("--labels", "-l", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Label file, when SOURCE is an input file.")
@click.option("--label-column", default=None, help="Label column (file or input annotation).")
@click.option("--sample-column", default=None, help="Sample column of the label file.")
@click.option("--format", "fmt", default="infer", show_default=True, help="Input format.")
@click.option("--quantity", default=None,
              help="Quantity to use where a format has several (MaxQuant: lfq, intensity, ibaq).")
@click.option("--samples-in", type=click.Choice(["auto", "rows", "columns"]), default="auto",
              show_default=True, help="Generic tables: are samples rows or columns?")
@_reader_options
@click.option("--methods", default=None, callback=_parse_methods,
              help="Comma-separated clusterers (default: all): dbscan, hdbscan, optics, kmeans, "
                   "agglomerative, spectral, affinity_propagation, gaussian_mixture.")
@_run_options
@click.pass_context
@_fail_clearly
def compare_cmd(ctx, source, labels, label_column, sample_column, fmt, quantity, samples_in,
                reader_options, missing_tokens, methods, out, **opts):
    """Benchmark every clusterer on one latent: metrics table and panel figure.

    SOURCE is either an output folder of `proteolabel run` (its latent, tune samples and
    min_samples are reused) or an input file (the VAE is trained first, as `run` does). Writes
    compare.csv, compare.png and silhouette.png to OUT (default for a run folder:
    SOURCE/compare).
    """
    import anndata as ad
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from proteolabel import tl
    from proteolabel._pipeline import run
    from proteolabel.pl._cluster import compare_panel, silhouette_curve

    src = Path(source)
    if src.is_dir():
        h5 = src / "result.h5ad"
        if not h5.exists():
            raise _Failure(f"{src} is a folder without result.h5ad; give a `proteolabel "
                           "run` output folder or an input file")
        adata = ad.read_h5ad(h5)
        used_here = {"out", "min_samples", "seed", "methods", "source"}
        ignored = [
            max(p.opts, key=len)
            for p in ctx.command.params
            if p.name not in used_here
            and ctx.get_parameter_source(p.name) is not click.core.ParameterSource.DEFAULT
        ]
        if ignored:
            click.echo(f"warning: {', '.join(ignored)} ignored: SOURCE is a run folder, whose "
                       "latent and tune samples are reused (they apply when SOURCE is an input "
                       "file)", err=True)
    else:
        cfg = _config(source, labels, None, opts, ctx.obj["progress"], label_column=label_column,
                      sample_column=sample_column, format=fmt, quantity=quantity,
                      samples_in=samples_in,
                      reader_options=_merge_reader_options(reader_options, missing_tokens))
        adata = run(cfg).adata
    if src.is_dir() and ctx.get_parameter_source("out") is click.core.ParameterSource.DEFAULT:
        out = str(src / "compare")  # beside the run it compares, unless told otherwise
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    min_samples = opts["min_samples"]
    given = ctx.get_parameter_source("min_samples") is not click.core.ParameterSource.DEFAULT
    if src.is_dir() and not given:  # the run's own DBSCAN setting, unless told otherwise
        min_samples = int(adata.uns.get("eps_search", {}).get("min_samples", min_samples))
        click.echo(f"min_samples={min_samples}, as in the run (--min-samples to change it)")
    comp = tl.compare(adata, methods=methods,
                      min_samples=min_samples, random_state=opts["seed"])
    comp.table.to_csv(outp / "compare.csv")
    keep = ~adata.obs["excluded"].to_numpy(bool) if "excluded" in adata.obs else slice(None)
    Z = adata.obsm["X_vae"][keep]
    y = adata.obs["label"].astype(object).to_numpy()[keep] if "label" in adata.obs else None
    tune = adata.obs["is_tune"].to_numpy(bool)[keep] if "is_tune" in adata.obs else None
    fig = compare_panel(Z, comp, y, tune=tune)
    fig.savefig(outp / "compare.png", dpi=120)
    plt.close(fig)
    written = ["compare.csv", "compare.png"]
    if "kmeans" in comp.curves:
        fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
        silhouette_curve(comp.curves["kmeans"], ax=ax, title="k-means: silhouette against k")
        fig.savefig(outp / "silhouette.png", dpi=120)
        plt.close(fig)
        written.append("silhouette.png")
    elif (outp / "silhouette.png").is_file():  # an earlier comparison's: not this one's
        (outp / "silhouette.png").unlink()
    cols = [c for c in ("n_clusters", "noise_fraction", "tune_v_measure", "heldout_v_measure",
                        "heldout_ari", "silhouette", "seconds", "status") if c in comp.table]
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        click.echo(comp.table[cols].round(3).to_string())
    click.echo(f"Wrote {outp} ({', '.join(written)})")




for _p in compare_cmd.params:  # its --out default depends on SOURCE
    if _p.name == "out":
        _p.help = ("Output folder (created; files in it are replaced). [default: SOURCE/compare "
                   "for a run folder, else proteolabel_out]")
        _p.show_default = False


@main.command("predict")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("input", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", type=click.Path(file_okay=False), default="proteolabel_predict",
              show_default=True, help="Output folder (created; files in it are replaced).")
@click.option("--format", "fmt", default="infer", show_default=True,
              help="Input format (see `proteolabel formats`); inferred from name and header.")
@click.option("--quantity", default=None,
              help="Quantity to use where a format has several (MaxQuant: lfq, intensity, ibaq).")
@click.option("--samples-in", type=click.Choice(["auto", "rows", "columns"]), default="auto",
              show_default=True, help="Generic tables: are samples rows or columns?")
@_reader_options
@click.option("--distance-factor", type=click.FloatRange(0, min_open=True), default=None,
              help="Flag samples farther than this x eps from every training core point in the "
                   "latent space. [default: the model's, 2]")
@click.option("--min-probability", type=click.FloatRange(0, 1), default=None,
              help="Flag samples whose highest class probability is below this. "
                   "[default: the model's, 0.6]")
@_fail_clearly
def predict_cmd(model_dir, input, out, fmt, quantity, samples_in, reader_options, missing_tokens,
                distance_factor, min_probability):
    """Label the samples of INPUT with the model a run saved in MODEL_DIR (OUT/model, or OUT).

    Writes predictions.csv (one row per sample: predicted cluster and label, class
    probabilities, latent position, "unlike the training data" flag and reason) and
    predict.json (protein matching, counts, the rule, the model's training report) to OUT.
    """
    from proteolabel._predict import predict_file

    _, report = predict_file(
        model_dir, input, out, format=fmt, quantity=quantity, samples_in=samples_in,
        reader_options=_merge_reader_options(reader_options, missing_tokens),
        rule={"distance_factor": distance_factor, "min_probability": min_probability},
    )
    p = report["proteins"]
    click.echo(
        f"{report['n_samples']} samples; {p['n_matched']} of the model's {p['n_model_proteins']} "
        f"proteins found ({p['n_missing']} missing, filled; {p['n_extra']} extra, ignored)."
    )
    if p.get("n_matched_by_leading_accession"):
        click.echo(
            f"  {p['n_matched_by_leading_accession']} of them matched by leading accession only "
            "(protein groups with other members; pairs in predict.json -> proteins -> "
            "matched_by_leading_accession)"
        )
    labels = ", ".join(f"{k} {v}" for k, v in report["predicted_labels"].items())
    click.echo(f"  predicted labels: {labels}")
    u = report["unlike_training"]
    reasons = ", ".join(f"{k} {v}" for k, v in u["by_reason"].items() if v)
    click.echo(f"  unlike the training data: {u['n']}" + (f" ({reasons})" if reasons else ""))
    click.echo(f"Wrote {Path(out)} (predictions.csv, predict.json)")


def _number_list(kind):
    """Parse '500,1000' (and repeated options) into a tuple of numbers."""

    def parse(ctx, param, values):
        if not values:
            return None
        try:
            return tuple(kind(v) for item in values for v in item.split(",") if v.strip())
        except ValueError as exc:
            raise click.BadParameter(f"expected comma-separated numbers, got {values}") from exc

    return parse


@main.command("study")
@click.argument("name", type=click.Choice(["samples-features", "snr", "clusterers", "silhouette",
                                           "eps"]))
@click.option("--out", "-o", type=click.Path(file_okay=False), default="proteolabel_study",
              show_default=True, help="Output folder (created; the study's files are replaced).")
@click.option("--quick", is_flag=True, help="The reduced grid (smaller sizes, 10 epochs).")
@click.option("--seeds", type=click.IntRange(1), default=3, show_default=True,
              help="Repeats with seeds 0..N-1 (data and VAE).")
@click.option("--epochs", type=click.IntRange(1), default=None,
              help="VAE epochs per run. [default: 500, or 10 with --quick]")
@click.option("--sizes", multiple=True, callback=_number_list(int),
              help="Sample sizes, comma-separated (e.g. 500,1000,2000,10000).")
@click.option("--informative", multiple=True, callback=_number_list(int),
              help="Numbers of informative features, comma-separated.")
@click.option("--snr", multiple=True, callback=_number_list(float),
              help="Signal to noise values (class_sep / within-group sd), comma-separated.")
@click.option("--features", type=click.IntRange(2), default=1296, show_default=True,
              help="Features per sample.")
@click.option("--embedding", type=click.Choice(["vae", "pca"]), default="vae", show_default=True,
              help="The method's VAE, or PCA as a linear reference.")
@click.option("--beta", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Weight of the VAE's KL term (the method: 1; lower against collapse).")
@click.option("--kl-warmup-epochs", type=click.IntRange(0), default=0, show_default=True,
              help="Epochs over which the KL weight rises from 0 to --beta.")
@click.option("--jobs", "-j", type=int, default=-1, show_default=True,
              help="Processes for distinct settings (-1: every core).")
@click.option("--device", default="auto", show_default=True,
              help="'auto' (GPU if present), 'cpu', 'cuda' or 'cuda:N'.")
@click.pass_context
@_fail_clearly
def study_cmd(ctx, name, out, quick, seeds, epochs, sizes, informative, snr, features,
              embedding, beta, kl_warmup_epochs, jobs, device):
    """Run one of the method's synthetic studies; write NAME.csv, NAME.png and NAME.json.

    \b
    samples-features  group distance in the latent: sample sizes x informative features
    snr               group distance against signal to noise
    clusterers        every clusterer on the latent of four groups
    silhouette        k-means silhouette against k: round groups and stripes
    eps               DBSCAN eps sweep: clusters, noise, scores, where the maximum lies
    """  # noqa: D301 - click's \b keeps the list unwrapped
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from proteolabel.studies import run_study, summarize_study

    table = run_study(name, out, sizes=sizes, informative=informative, snr=snr, seeds=seeds,
                      epochs=epochs, quick=quick, n_jobs=jobs, progress=ctx.obj["progress"],
                      n_features=features, embedding=embedding, device=device,
                      vae_params={"beta": beta, "kl_warmup_epochs": kl_warmup_epochs})
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        click.echo(summarize_study(name, table).to_string(
            index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(f"Wrote {Path(out)}/ ({name}.csv, {name}.png, {name}.json)")


@main.command("inspect")
@click.argument("input", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", default="infer", show_default=True, help="Input format.")
@click.option("--quantity", default=None, help="Quantity to use where a format has several.")
@click.option("--samples-in", type=click.Choice(["auto", "rows", "columns"]), default="auto")
@_reader_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_fail_clearly
def inspect_cmd(input, fmt, quantity, samples_in, reader_options, missing_tokens, as_json):
    """Read INPUT and print what was detected: format, quantity, samples, proteins, drops."""
    import numpy as np

    from proteolabel.io import read

    adata = read(input, format=fmt, quantity=quantity, samples_in=samples_in,
                 **_merge_reader_options(reader_options, missing_tokens))
    info = dict(adata.uns.get("read", {}))
    X = np.asarray(adata.X, dtype=float)
    summary = {
        "path": str(input),
        "format": info.get("format"),
        "quantity": info.get("quantity"),
        "n_samples": int(adata.n_obs),
        "n_proteins": int(adata.n_vars),
        "missing_fraction": float(np.isnan(X).mean()) if X.size else 0.0,
        "dropped": info.get("dropped", {}),
        "missing_tokens": info.get("missing_tokens", {}),
        "samples": [str(s) for s in adata.obs_names],
        "annotations": {c: adata.obs[c].astype(str).value_counts().head(20).to_dict()
                        for c in adata.obs.columns
                        if adata.obs[c].nunique() <= max(20, adata.n_obs // 2)},
        "messages": list(info.get("messages", [])),
        "warnings": list(info.get("warnings", [])),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    click.echo(f"{summary['path']}: format {summary['format']}, quantity {summary['quantity']}")
    click.echo(f"  {summary['n_samples']} samples x {summary['n_proteins']} proteins, "
               f"{summary['missing_fraction']:.1%} missing")
    if summary["dropped"]:
        click.echo("  dropped: " + ", ".join(f"{k} {v}" for k, v in summary["dropped"].items()))
    shown = summary["samples"][:8]
    more = len(summary["samples"]) - len(shown)
    click.echo("  samples: " + ", ".join(shown) + (f", ... (+{more})" if more > 0 else ""))
    for col, counts in summary["annotations"].items():
        click.echo(f"  annotation {col!r}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for line in summary["messages"]:  # the warnings were shown as they were issued
        click.echo("  " + str(line))
    if summary["warnings"]:
        n = len(summary["warnings"])
        click.echo(f"  {n} warning{'' if n == 1 else 's'} (above; --json lists them)")


@main.command("formats")
def formats_cmd():
    """List the input formats proteolabel reads."""
    from proteolabel.io import READERS

    width = max(len(n) for n in READERS)
    for name, spec in READERS.items():
        opts = f" [options: {', '.join(spec.options)}]" if spec.options else ""
        click.echo(f"{name:<{width}}  {spec.description}{opts}")
    click.echo("\nEvery file also takes --option sheet=NAME (Excel), header_row=N (a header "
               "below title rows), delimiter=..., encoding=..., r_object=NAME (R data) and "
               "decimal=,|. ; --missing-tokens replaces the list of cell texts read as missing "
               "(an empty cell and 0 are always missing).")


if __name__ == "__main__":  # pragma: no cover
    main()
