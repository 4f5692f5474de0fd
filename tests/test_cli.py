"""The ``mathlearn`` command line and the tour runner."""

import io
import subprocess
import sys

import pytest

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
    for section in all_tour_sections():
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


def test_every_section_runs(tmp_path, capsys):
    """The whole tour, as a user runs it (short by design: < 2 min)."""
    assert main(["tour", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for section in all_tour_sections():
        assert section.title in out
