"""The ``mathlearn`` command line and the tour runner."""

import collections
import heapq
import io
import re
import subprocess
import sys

import numpy as np
import pytest
from test_discovery import EXPECTED_SECTIONS

import mathlearn
from mathlearn._cli import main
from mathlearn._tour import TourSection, run_tour
from mathlearn.utils import all_tour_sections


def test_version():
    result = subprocess.run(
        [sys.executable, "-m", "mathlearn", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"mathlearn {mathlearn.__version__}"


def test_tour_help_explains_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tour", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--only", "--out", "--list", "--no-plots"):
        assert option in text


def test_unknown_section_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tour", "--only", "no-such-section"])
    assert exc.value.code == 2
    assert "no-such-section" in capsys.readouterr().err


def test_list_names_every_section(capsys):
    assert main(["tour", "--list"]) == 0
    listed = capsys.readouterr().out
    sections = all_tour_sections()
    # An empty discovery would make the loop below pass vacuously.
    assert {section.name for section in sections} >= EXPECTED_SECTIONS
    for section in sections:
        assert section.name in listed


def test_import_is_light():
    """``import mathlearn`` loads neither torch nor matplotlib."""
    code = (
        "import sys, mathlearn, mathlearn.utils; "
        "mathlearn.utils.all_estimators(); "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_run_tour_prints_reports_in_order_and_saves_plots(tmp_path):
    import matplotlib.pyplot as plt

    from mathlearn._tour import save_figure

    def plotting(out_dir):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        save_figure(fig, out_dir, "line.png")
        return "drew a line"

    sections = [
        TourSection("first", "First part", lambda out_dir: "  indented report", 1),
        TourSection("second", "Second part", plotting, 2),
    ]
    stream = io.StringIO()
    timings = run_tour(sections, out_dir=tmp_path / "plots", stream=stream)
    text = stream.getvalue()
    assert text.index("First part") < text.index("Second part")
    assert "indented report" in text and "drew a line" in text
    assert set(timings) == {"first", "second"}
    assert (tmp_path / "plots" / "line.png").stat().st_size > 0


@pytest.mark.slow
def test_every_section_runs(tmp_path, capsys):
    """The whole tour, as a user runs it (short by design: < 2 min)."""
    assert main(["tour", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    sections = all_tour_sections()
    assert {section.name for section in sections} >= EXPECTED_SECTIONS
    for section in sections:
        assert section.title in out


# The key figures of a section's report, recomputed through the public API or
# an independent library: the tour shows what the library computes.


def _report(name):
    (section,) = [s for s in all_tour_sections() if s.name == name]
    return section.run(None)


def test_tour_information_figures():
    from sklearn.datasets import load_iris
    from sklearn.metrics import mutual_info_score

    report = _report("information")
    assert f"H(species) = {np.log2(3):.3f} bits" in report
    iris = load_iris()
    for j, name in enumerate(iris.feature_names):
        column = iris.data[:, j]
        binned = np.digitize(column, np.quantile(column, [1 / 3, 2 / 3]))
        bits = mutual_info_score(binned, iris.target) / np.log(2)
        assert f"{name:<18} I = {bits:.3f} bits" in report
    for rho in (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95):
        closed_form = -0.5 * np.log(1 - rho**2) + 0.0
        assert re.search(rf"^  {rho:4.2f}  {closed_form:11.3f} ", report, re.M)


def test_tour_fourier_figures():
    report = _report("fourier")
    rng = np.random.RandomState(0)
    t = np.arange(1000) / 1000.0
    signal = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 120 * t)
    amplitude = 2 * np.abs(np.fft.rfft(signal + 0.8 * rng.standard_normal(1000)))
    amplitude /= 1000
    assert (
        f"50 Hz ({amplitude[50]:.2f}, true 1.00) and 120 Hz "
        f"({amplitude[120]:.2f}, true 0.50)"
    ) in report


@pytest.mark.slow
def test_tour_backprop_baselines():
    report = _report("backprop")
    text = " ".join(heapq.__about__.split())
    train, test = text[: int(0.85 * len(text))], text[int(0.85 * len(text)) :]
    counts = collections.Counter(train)
    total = len(train) + len(set(text))  # add-one smoothing of every character
    unigram = -np.mean([np.log((counts[c] + 1) / total) for c in test])
    assert f"({len(set(text))} distinct characters)" in report
    assert f"unigram frequencies {unigram:.2f}" in report
    assert f"uniform {np.log(len(set(text))):.2f}" in report


@pytest.mark.slow
def test_tour_sph_figures():
    from mathlearn.sph import SPHFluid

    report = _report("sph")
    fluid = SPHFluid(800, dim=2, random_state=0).run(0.3)
    assert f"{fluid.n_steps} CFL-adaptive leapfrog steps" in report
    assert f"front position x_max          : {fluid.positions[:, 0].max():.3f}" in (
        report
    )


@pytest.mark.slow
def test_tour_random_projection_figures():
    from mathlearn.datasets import make_very_sparse
    from mathlearn.random_projection import (
        HadamardRandomProjection,
        pairwise_distortion,
    )

    report = _report("random_projection")
    X = make_very_sparse(2000, 100_000, density=1e-4, random_state=1)
    X_new = HadamardRandomProjection(256, random_state=0).fit_transform(X)
    result = pairwise_distortion(X, X_new, n_pairs=2000, random_state=0)
    figures = f"{result.distortion_quantile(0.99):>7.2f}{result.max_distortion:>7.2f}"
    assert f"  {'HadamardRandomProjection':<34}{figures}" in report


@pytest.mark.slow
def test_tour_impute_figures():
    from scipy.stats import spearmanr
    from sklearn.impute import SimpleImputer

    from mathlearn.datasets import make_race_speeds
    from mathlearn.impute import SVDImputer

    report = _report("impute")
    speed, X, ability = make_race_speeds(random_state=0)
    missing = np.isnan(X)
    mean = SimpleImputer().fit_transform(X)
    u_v = SVDImputer(n_components=1, center=None, random_state=0).fit_transform(X)
    mean_rmse = np.sqrt(np.mean((mean - speed)[missing] ** 2))
    u_v_rmse = np.sqrt(np.mean((u_v - speed)[missing] ** 2))
    assert f"  {'SimpleImputer (race mean)':<50}{mean_rmse:>8.4f}{1:>8.2f}" in report
    assert (
        f"  {'SVDImputer(n_components=1, center=None): u_i v_j':<50}{u_v_rmse:>8.4f}"
        f"{u_v_rmse / mean_rmse:>8.2f}"
    ) in report
    completed = spearmanr(np.log(u_v).mean(axis=1), ability).statistic
    observed = spearmanr(np.nanmean(X, axis=1), ability).statistic
    assert (
        f"completed matrix {completed:.3f}, mean of observed speeds {observed:.3f}"
    ) in report
    assert f"rank 1 {u_v_rmse:.4f}, rank 2 " in report
