"""The ``compare`` command (cli/compare.py): the demo's shapes when no data is given, one-line user errors.

That its in-process results equal the child processes' is tested with the runner, in
tests/compare/test_runner.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import compare_in_process, comparison_data, run_compare


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return comparison_data(tmp_path_factory.mktemp("compare-data"))


def test_cli_compare_without_data_uses_the_demo_shapes(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    result = compare_in_process(str(tiny_siglip_dir), tmp_path, "json")
    assert result.exit_code == 0, result.output
    assert "the demo's synthetic shapes" in result.stderr
    report = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    assert report["pairs"]["languages"] == ["ar", "de", "en", "es", "fr", "ru", "zh"]
    assert report["classes"]["classes"] == 24
    assert report["models"][0]["images"] == 48  # 2 per class, shared by both tasks
    assert (tmp_path / "data" / "classes" / "labels.json").is_file()


@pytest.mark.slow
def test_cli_compare_user_errors(data: dict[str, Path], tiny_siglip_dir: Path, tmp_path: Path) -> None:
    pairs = ["--pairs", str(data["pairs"])]
    cases = [  # a bad option (a ConfigurationError) exits with 2, like click's usage errors; others 1
        (["--models", "demo", *pairs, "--format", "pdf"], "error: unknown format 'pdf'", 2),
        (["--models", "demo", *pairs, "--k", "one"], "error: --k takes comma-separated whole numbers", 2),
        (
            ["--models", "demo", *pairs, "--labels", str(data["classes"] / "labels.json")],
            "give --classes too",
            2,
        ),
        (["--models", "not a model", *pairs], "error: unknown model 'not a model'", 1),
        (["--models", f"a={tiny_siglip_dir},a=demo", *pairs], "error: two models are labelled 'a'", 2),
    ]
    for args, message, code in cases:
        result = run_compare(*args, "--out", str(tmp_path))
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, result.output
        assert "Traceback" not in result.output
    # an error inside the child process comes back as the same one-line error
    (tmp_path / "not-a-checkpoint").mkdir()
    failed = run_compare("--models", str(tmp_path / "not-a-checkpoint"), *pairs, "--format", "table")
    assert failed.exit_code == 1
    assert "error: could not load model" in failed.output
