"""What the figures show: colours, legends, panels and titles (not only that they draw)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests only; the library never picks a backend

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from proteolabel import _constants as K
from proteolabel import pl, tl
from proteolabel.cluster import DegenerateTuneWarning, EpsSearch, NoTuneSamplesWarning
from proteolabel.pl import _style as S
from proteolabel.pl._cluster import compare_panel, eps_sweep


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _is_grey(colour, tol=0.04) -> bool:
    r, g, b = to_rgb(colour)
    return max(r, g, b) - min(r, g, b) < tol


def _blobs(n_groups: int, n: int = 15, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = [(6 * np.cos(t), 6 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, n_groups, endpoint=False)]
    Z = np.concatenate([rng.normal(c, 0.25, (n, 2)) for c in centres])
    g = np.repeat(np.arange(n_groups), n)
    return Z, g


def _adata(n_groups=12, n=15, *, labels=None, noise=3, seed=0):
    """AnnData with a latent of ``n_groups`` blobs, DBSCAN-like clusters and known labels."""
    Z, g = _blobs(n_groups, n, seed)
    cl = g.copy()
    cl[:noise] = -1
    a = ad.AnnData(np.zeros((len(Z), 1), np.float32))
    a.obs_names = [f"s{i}" for i in range(len(Z))]
    a.obsm[K.OBSM_LATENT] = Z
    a.obs[K.OBS_CLUSTER] = cl
    lab = np.array([f"group {i}" for i in g], dtype=object) if labels is None else labels
    a.obs[K.OBS_LABEL] = pd.Categorical(lab)
    tune = np.zeros(len(Z), bool)
    tune[::3] = True
    a.obs[K.OBS_TUNE] = tune
    return a


def _point_colours(ax):
    """(colour, number of points) of each filled scatter collection, rings left out."""
    out = []
    for coll in ax.collections:
        fc = coll.get_facecolors()
        if len(fc) == 0 or fc[0][3] == 0:  # rings: no face
            continue
        out.append((tuple(np.round(fc[0][:3], 4)), len(coll.get_offsets())))
    return out


def _legend_texts(leg):
    return [t.get_text() for t in leg.get_texts()]


# --- the shared palette -----------------------------------------------------------------------


def test_palette_has_no_grey_and_twenty_distinct_colours():
    assert len(set(S.PALETTE)) == len(S.PALETTE) == 20
    assert not any(_is_grey(c) for c in S.PALETTE)
    assert _is_grey(S.NOISE_COLOUR) and _is_grey(S.MISSING_COLOUR)
    # beyond the palette the colour repeats with another marker: styles stay unique
    styles = [S.style(i) for i in range(60)]
    assert len(set(styles)) == 60


def test_cluster_styles_take_the_majority_label_colour_once():
    clusters = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, -1])
    labels = np.array(["b", "b", "a", "b", "b", None, "a", "c", "c", "b", None, None, "a"], dtype=object)
    order = S.label_order(labels)
    assert order == ["a", "b", "c"]
    pos, major = S.cluster_styles(clusters, labels)
    assert "-1" not in pos
    # clusters 0 and 1 both hold "b" by majority (2 each); 1 is purer (2/2 against 2/3): it wins
    assert pos["1"] == order.index("b") and major["1"]["matched"]
    assert pos["0"] >= len(order) and not major["0"]["matched"]
    # cluster 2: c 2/4 is no majority, so no label colour
    assert not major["2"]["majority"] and pos["2"] >= len(order)
    # cluster 3 has no labelled samples
    assert "3" not in major and pos["3"] >= len(order)
    assert len(set(pos.values())) == len(pos)


def test_natural_order_and_log_ticks():
    assert sorted(["K63", "K6", "K11", "Mono", "ctrl"], key=S.natural_key) == [
        "ctrl", "K6", "K11", "K63", "Mono"]
    ticks = S.log_ticks(0.03, 2.4)
    assert len(ticks) >= 4 and ticks[0] >= 0.03 and ticks[-1] <= 2.4
    assert len(S.log_ticks(1e-4, 3.5e-3)) >= 4


# --- latent -----------------------------------------------------------------------------------


def test_latent_many_clusters_noise_is_the_only_grey():
    a = _adata(12)
    ax = pl.latent(a, K.OBS_CLUSTER)
    cols = _point_colours(ax)
    grey = [c for c, _ in cols if _is_grey(c)]
    assert grey == [tuple(np.round(to_rgb(S.NOISE_COLOUR), 4))]
    colours = [c for c, _ in cols if not _is_grey(c)]
    assert len(colours) == 12 and len(set(colours)) == 12
    texts = _legend_texts(ax.get_legend())
    assert texts[0] == "noise (3)"
    assert f"tune sample (ringed), {a.obs[K.OBS_TUNE].sum()}" in texts


def test_latent_more_than_twenty_clusters_stay_distinct():
    a = _adata(26, n=6, noise=0)
    ax = pl.latent(a, K.OBS_CLUSTER, match_to=None)
    styles = set()
    for coll in ax.collections:
        fc = coll.get_facecolors()
        if len(fc) and fc[0][3] > 0:
            styles.add((tuple(np.round(fc[0][:3], 4)), coll.get_paths()[0].vertices.shape))
    assert len(styles) == 26


def test_latent_cluster_colours_match_the_known_label_colours():
    a = _adata(5)
    _fig, (left, right) = plt.subplots(1, 2)
    pl.latent(a, K.OBS_CLUSTER, ax=left)
    pl.latent(a, K.OBS_LABEL, ax=right)
    # each cluster is exactly one known group here: same colours on both sides
    lab_colours = {c for c, _ in _point_colours(right)}
    clu_colours = {c for c, _ in _point_colours(left) if not _is_grey(c)}
    assert clu_colours == lab_colours
    texts = _legend_texts(left.get_legend())
    # named by its tune samples (every third sample), as labels.csv's cluster_label is
    n_tune = int(a.obs.loc[a.obs[K.OBS_CLUSTER] == 1, K.OBS_TUNE].sum())
    assert any(t.startswith(f"1 (15): group 1 {n_tune}/{n_tune}") for t in texts)
    assert "tune samples" in left.get_legend().get_title().get_text()


def test_latent_legend_names_clusters_as_labels_csv_does():
    from proteolabel._pipeline import cluster_labels

    # cluster 0: tune samples 2 x "K6", 2 x "K33" (a tie: alphabetically first, "K33"), and the
    # held-out samples mostly "K6"; cluster 1: tune samples "b", held-out ones "a"
    cl = np.array([0] * 8 + [1] * 6)
    lab = np.array(["K6", "K33", "K6", "K33", "K6", "K6", "K6", "K6",
                    "b", "b", "a", "a", "a", "a"], dtype=object)
    tune = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0], bool)
    a = ad.AnnData(np.zeros((14, 1), np.float32))
    a.obs_names = [f"s{i}" for i in range(14)]
    a.obsm[K.OBSM_LATENT] = np.random.default_rng(0).random((14, 2))
    a.obs[K.OBS_CLUSTER] = cl
    a.obs[K.OBS_LABEL] = pd.Categorical(lab)
    a.obs[K.OBS_TUNE] = tune
    a.obs[K.OBS_EXCLUDED] = False
    names = cluster_labels(a)
    assert names == {0: "K33", 1: "b"}
    texts = _legend_texts(pl.latent(a, K.OBS_CLUSTER).get_legend())
    assert any(t.startswith("0 (8): K33 2/4, tie") for t in texts), texts
    assert any(t.startswith("1 (6): b 2/2") for t in texts), texts


def test_latent_legend_outside_and_rings_visible():
    a = _adata(4, n=200)  # many samples: small dots
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    pl.latent(a, K.OBS_LABEL, ax=ax)
    fig.canvas.draw()
    leg = ax.get_legend().get_window_extent()
    box = ax.get_window_extent()
    assert leg.x0 >= box.x1  # right of the axes, never on the points
    rings = [c for c in ax.collections if len(c.get_facecolors()) == 0 or c.get_facecolors()[0][3] == 0]
    dots = [c for c in ax.collections if c not in rings]
    assert len(rings) == 1
    dot_d = np.sqrt(dots[0].get_sizes()[0])
    ring_d = np.sqrt(rings[0].get_sizes()[0])
    assert ring_d - dot_d >= 2.5  # a visible gap of >= 1.25 pt each side
    assert rings[0].get_linewidths()[0] >= 0.8


def test_latent_missing_labels_light_grey_and_long_names_wrapped():
    labels = np.array(["type 2 diabetes mellitus|non-alcoholic fatty liver disease"] * 30
                      + ["healthy"] * 25 + [None] * 5, dtype=object)
    a = _adata(4, labels=labels)
    ax = pl.latent(a, K.OBS_LABEL)
    texts = _legend_texts(ax.get_legend())
    assert texts[0] == "no label (5)"
    assert all(max(len(line) for line in t.split("\n")) <= 31 for t in texts)
    grey = [c for c, _ in _point_colours(ax) if _is_grey(c)]
    assert grey == [tuple(np.round(to_rgb(S.MISSING_COLOUR), 4))]


# --- eps sweep --------------------------------------------------------------------------------


def _sweep_case():
    Z, g = _blobs(3, 20)
    y = np.where(np.arange(len(Z)) % 3 == 0, np.array([f"g{i}" for i in g], dtype=object), None)
    return Z, y


def test_eps_sweep_separate_cluster_panel_title_and_undefined_region():
    Z, y = _sweep_case()
    s = EpsSearch(min_samples=5, n_eps=40).fit(Z, y)
    assert not s.sweep_["defined"].all()  # part of the grid is degenerate
    ax = eps_sweep(s.sweep_, s.eps_, min_samples=5, n_tune=int(pd.notna(y).sum()))
    title = ax.get_title()
    assert "min_samples = 5" in title and f"{s.eps_:.3g}" in title and "V-measure on 20 tune" in title
    clusters_ax, noise_ax = ax.count_axes
    assert len({id(ax), id(clusters_ax), id(noise_ax)}) == 3
    # scores on 0..1, the cluster count on its own axis
    assert ax.get_ylim()[1] < 1.2
    cl = clusters_ax.get_lines()[0].get_ydata()
    assert np.array_equal(cl, s.sweep_["n_clusters"].to_numpy())
    assert clusters_ax.get_ylim()[1] <= 1.2 * s.sweep_["n_clusters"].max() + 1e-9
    texts = _legend_texts(ax.get_legend())
    assert {"homogeneity", "completeness", "v-measure"} <= set(texts)
    assert any(t.startswith("score undefined: fewer than two clusters") for t in texts)
    assert f"chosen eps = {s.eps_:.3g}" in texts
    ax.figure.canvas.draw()
    labelled = [t for t in noise_ax.get_xticklabels() if t.get_text()]
    assert len(labelled) >= 3


def test_eps_sweep_fallback_says_what_happened():
    Z, g = _blobs(2, 30)
    # tune samples (two labels) all in one blob: never two clusters among them
    y = np.full(len(Z), None, dtype=object)
    idx = np.flatnonzero(g == 0)[:10]
    y[idx] = ["a", "b"] * 5
    with pytest.warns(DegenerateTuneWarning):
        s = EpsSearch(min_samples=5, n_eps=30).fit(Z, y)
    assert not s.supervised_
    ax = eps_sweep(s.sweep_, s.eps_, min_samples=5, n_tune=10)  # supervision inferred
    title = ax.get_title()
    assert "unsupervised knee rule" in title and "fallback" in title and "10 tune samples" in title
    assert "no tune samples" not in ax.get_ylabel() + title
    assert any("scores undefined at every eps" in t.get_text() for t in ax.texts)


def test_eps_sweep_without_tune_samples():
    Z, _ = _blobs(2, 30)
    with pytest.warns(NoTuneSamplesWarning):
        s = EpsSearch(min_samples=5, n_eps=30).fit(Z)
    ax = eps_sweep(s.sweep_, s.eps_, min_samples=5)
    assert "(no tune samples)" in ax.get_title()
    assert any("no tune samples" in t.get_text() for t in ax.texts)


def test_eps_search_uses_how_eps_was_chosen_not_only_whether_tune_samples_existed():
    a = _adata(2, n=30, noise=0)
    tune = np.zeros(a.n_obs, bool)
    tune[:10] = True  # all from the first blob
    a.obs[K.OBS_TUNE] = tune
    a.obs[K.OBS_LABEL] = pd.Categorical(np.where(np.arange(a.n_obs) % 2 == 0, "x", "y"))
    with pytest.warns(DegenerateTuneWarning):
        tl.tune_eps(a, min_samples=5)
    ax = pl.eps_search(a)
    assert "min_samples = 5" in ax.get_title() and "fallback" in ax.get_title()


# --- training loss ----------------------------------------------------------------------------


def _vae_history(n=50, beta=1.0):
    rng = np.random.default_rng(0)
    kl = np.linspace(0.1, 5, n) + rng.normal(0, 0.05, n)
    rec = 500 + 300 * np.exp(-np.arange(n) / 5)
    return {"epoch": np.arange(1, n + 1), "loss": rec + beta * kl, "reconstruction": rec, "kl": kl,
            "beta": np.full(n, beta), "val_loss": np.full(n, np.nan)}


def test_training_loss_kl_in_its_own_panel_with_legends_outside():
    a = ad.AnnData(np.zeros((3, 1), np.float32))
    a.uns[K.UNS_VAE] = {"history": _vae_history(), "params": {"beta": 1.0}, "collapsed": False}
    fig, given = plt.subplots(figsize=(7, 4.6), layout="constrained")
    top = pl.training_loss(a, ax=given)
    assert top is given and top.kl_ax is not top
    assert [ln.get_label() for ln in top.get_lines()] == ["loss (train)", "reconstruction term (BCE, train)"]
    assert [ln.get_label() for ln in top.kl_ax.get_lines()] == ["KL term"]
    # the two upper lines differ in style, so the one under the other stays visible
    loss, rec = top.get_lines()
    assert loss.get_linestyle() != rec.get_linestyle() and loss.get_linewidth() > rec.get_linewidth()
    assert "β" in top.get_title()
    fig.canvas.draw()
    for a_ in (top, top.kl_ax):
        assert a_.get_legend().get_window_extent().x0 >= a_.get_window_extent().x1


def test_training_loss_shows_the_weighted_kl_when_beta_is_not_one():
    a = ad.AnnData(np.zeros((3, 1), np.float32))
    a.uns[K.UNS_VAE] = {"history": _vae_history(beta=0.5), "params": {"beta": 0.5}}
    top = pl.training_loss(a)
    assert len(top.kl_ax.get_lines()) == 2 and "β = 0.5" in top.get_title()


# --- compare panel ----------------------------------------------------------------------------


def test_compare_panel_titles_legend_and_colours():
    from proteolabel.cluster import compare_clusterers

    Z, g = _blobs(3, 25)
    y = np.array([f"g{i}" for i in g], dtype=object)
    y_tune = np.where(np.arange(len(Z)) % 3 == 0, y, None)
    res = compare_clusterers(Z, y_tune=y_tune, y_eval=y, methods=["dbscan", "kmeans", "gaussian_mixture"],
                             random_state=0, min_samples=5)
    res.labels["one"] = np.zeros(len(Z), int)  # a one-cluster result
    fig = compare_panel(Z, res, y, methods=["dbscan", "kmeans", "one"], tune=pd.notna(y_tune))
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles[0] == "known labels"
    assert titles[1].startswith("dbscan: 3 clusters") and "min_samples=5" in titles[1]
    assert "eps=" in titles[1] and "V=" in titles[1]
    assert "k=3" in titles[2]
    assert titles[3].startswith("one: 1 cluster") and "1 clusters" not in titles[3]
    leg = fig.legends[0]
    texts = _legend_texts(leg)
    assert texts[:3] == ["g0 (25)", "g1 (25)", "g2 (25)"]
    assert "tune sample (ringed), 25" in texts
    for a in fig.axes[:4]:
        assert a.get_xlabel() == "latent 1" and a.get_ylabel() == "latent 2"
    # dbscan finds the three groups: its colours are the known labels' colours
    known = {c for c, _ in _point_colours(fig.axes[0])}
    db = {c for c, _ in _point_colours(fig.axes[1]) if not _is_grey(c)}
    assert db == known
    # colours of the known labels equal those latent() gives them
    a = ad.AnnData(np.zeros((len(Z), 1), np.float32))
    a.obsm[K.OBSM_LATENT] = Z
    a.obs[K.OBS_LABEL] = pd.Categorical(y)
    assert {c for c, _ in _point_colours(pl.latent(a, K.OBS_LABEL, mark=None))} == known


def test_split_panels_keep_the_given_axes_even_when_placed_by_hand():
    Z, y = _sweep_case()
    s = EpsSearch(min_samples=5, n_eps=20).fit(Z, y)
    fig = plt.figure()
    given = fig.add_axes((0.1, 0.1, 0.6, 0.8))  # no subplot spec
    ax = eps_sweep(s.sweep_, s.eps_, ax=given)
    assert ax is given and len(fig.axes) == 3
    top, bottom = ax.get_position(), ax.count_axes[1].get_position()
    assert top.y0 > bottom.y1
