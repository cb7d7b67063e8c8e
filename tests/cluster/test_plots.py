from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests only; the library never picks a backend

import matplotlib.pyplot as plt
import numpy as np
import pytest
from _synthetic import blobs_and_stripes

from proteolabel.cluster import EpsSearch, compare_clusterers
from proteolabel.pl._cluster import compare_panel, eps_sweep, silhouette_curve


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_eps_sweep_plot_marks_the_choice(tmp_path):
    X, y = blobs_and_stripes(40)
    s = EpsSearch(n_eps=30).fit(X, y)
    ax = eps_sweep(s.sweep_, s.eps_)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"v-measure", "homogeneity", "completeness", f"chosen eps = {s.eps_:.3g}"} <= set(labels)
    assert any(np.allclose(line.get_xdata(), s.eps_) for line in ax.get_lines())
    clusters_ax, noise_ax = ax.count_axes  # counts in their own panels, not on the score axis
    assert clusters_ax.get_ylabel() == "clusters" and noise_ax.get_ylabel() == "noise\nsamples"
    counts = [t.get_text() for t in clusters_ax.get_legend().get_texts()]
    assert counts == ["all samples", "tune samples"]
    ax.figure.savefig(tmp_path / "sweep.png")
    _fig, given = plt.subplots()
    assert eps_sweep(s.sweep_, s.eps_, ax=given) is given


def test_compare_panel_and_silhouette_curve(tmp_path):
    X, y = blobs_and_stripes(30)
    res = compare_clusterers(X, y, methods=["dbscan", "kmeans"], random_state=0)
    fig = compare_panel(X, res, y)
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles[0] == "known labels" and titles[1].startswith("dbscan: ")
    assert "min_samples=10" in titles[1] and "\nV=" in titles[1]
    fig.savefig(tmp_path / "panel.png")
    fig2 = compare_panel(X, res.labels)  # a plain mapping works too
    assert len([a for a in fig2.axes if a.get_title()]) == 2
    ax = silhouette_curve(res.curves["kmeans"])
    assert ax.get_xlabel().startswith("k")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "silhouette (higher is better)" and legend[1].startswith("chosen k = ")
    ax.figure.savefig(tmp_path / "sil.png")
