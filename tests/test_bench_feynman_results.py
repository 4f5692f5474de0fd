"""The results file of benchmarks/bench_feynman.py (``--results``): reuse and keys."""

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_feynman  # noqa: E402

CSV = (
    "Filename,Output,Formula,# variables,v1_name,v1_low,v1_high,v2_name,v2_low,"
    "v2_high\ntest.1,F,m*a,2,m,1,{high},a,1,5\n"
)


def _git(directory, *args):
    return subprocess.run(
        ["git", "-C", str(directory), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _one_equation_run(tmp_path, monkeypatch, dirty):
    """The CSV, the results file and the arguments of a 1-second run.

    The package is seen as a git tree, clean or ``dirty`` (the checkout
    running the tests may have uncommitted changes).
    """
    equations = tmp_path / "equations.csv"
    equations.write_text(CSV.format(high=5))
    results = tmp_path / "results.jsonl"
    version = bench_feynman.SourceVersion("a" * 40, "b" * 40, dirty)
    monkeypatch.setattr(bench_feynman, "source_version", lambda directory: version)
    argv = [str(equations), "--methods", "mathlearn", "--results", str(results)]
    return equations, results, [*argv, "--max-time", "1"]


def test_second_run_reuses_results_and_a_changed_key_reruns(tmp_path, monkeypatch):
    equations, results, argv = _one_equation_run(tmp_path, monkeypatch, dirty=False)
    fits = []
    fit = bench_feynman.FITTERS["mathlearn"]

    def counted(*args):
        fits.append(args)
        return fit(*args)

    monkeypatch.setitem(bench_feynman.FITTERS, "mathlearn", counted)

    first = bench_feynman.main(argv)
    assert len(fits) == 1 and first[0]["recovered"]
    [line] = _lines(results)
    assert line["key"]["equation"] == "test.1" and line["key"]["max_time"] == 1.0
    assert line["key"]["version"] == f"git-tree:{'a' * 40}"
    assert line["commit"] == "b" * 40 and line["dirty"] is False
    assert {name: line[name] for name in bench_feynman.ROW_FIELDS} == first[0]

    # A line cut by a killed run is skipped; the stored result is reused.
    with open(results, "a") as handle:
        handle.write('{"key": {"method": "mathl')
    assert bench_feynman.main(argv) == first
    assert len(fits) == 1

    # Another budget, another range of a variable: new keys, new fits.
    bench_feynman.main([*argv[:-1], "1.5"])
    assert len(fits) == 2
    equations.write_text(CSV.format(high=6))
    bench_feynman.main(argv)
    assert len(fits) == 3
    stored = [line for line in results.read_text().splitlines() if line.endswith("}")]
    assert len(stored) == 3


def test_results_of_a_dirty_tree_are_stored_and_never_reused(tmp_path, monkeypatch):
    _, results, argv = _one_equation_run(tmp_path, monkeypatch, dirty=True)
    bench_feynman.main(argv)
    bench_feynman.main(argv)
    lines = _lines(results)
    assert len(lines) == 2 and all(line["dirty"] for line in lines)
    assert lines[0]["key"] == lines[1]["key"]


def test_source_version_sees_changed_and_untracked_files(tmp_path):
    package = tmp_path / "repository" / "package"
    package.mkdir(parents=True)
    (package / "module.py").write_text("x = 1\n")
    repository = package.parent
    _git(repository, "init", "-q")
    _git(repository, "add", ".")
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.org"]
    _git(repository, *identity, "commit", "-q", "-m", "package")
    version = bench_feynman.source_version(package)
    assert version.tree == _git(repository, "rev-parse", "HEAD:package")
    assert version.commit == _git(repository, "rev-parse", "HEAD")
    assert not version.dirty
    # A file outside the package does not change it.
    (repository / "notes.txt").write_text("")
    assert not bench_feynman.source_version(package).dirty
    (package / "new.py").write_text("")
    assert bench_feynman.source_version(package).dirty
    (package / "new.py").unlink()
    (package / "module.py").write_text("x = 2\n")
    assert bench_feynman.source_version(package).dirty
    outside = tmp_path / "outside"
    outside.mkdir()
    assert bench_feynman.source_version(outside) == (None, None, True)
