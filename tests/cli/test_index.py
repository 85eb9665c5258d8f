"""The ``index`` command (cli/index.py): the summary, failures on stderr, the JSON report, URIs refused
by the local engine."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli


def test_index_summary_failures_and_report(indexed: tuple[list[str], Path], tmp_path: Path) -> None:
    options, photos = indexed
    report = tmp_path / "report.json"
    again = run_cli(*options, "index", str(photos), "--report", str(report))
    assert again.exit_code == 0
    assert "0 added, 0 updated, 4 skipped, 1 failed" in again.stdout
    assert "broken.jpg: a text file, not an image" in again.stderr
    assert "store " in again.stdout
    data = json.loads(report.read_text())
    assert data[0]["failed"][0]["path"].endswith("broken.jpg")
    as_json = run_cli(*options, "index", str(photos / "red.png"), "--json")
    assert as_json.exit_code == 0
    single = json.loads(as_json.stdout)
    assert [Path(f["path"]).name for f in single[0]["skipped"]] == ["red.png"]


def test_cli_local_engine_refuses_uris(tmp_path: Path) -> None:
    run = run_cli("--db", str(tmp_path / "db"), "index", "s3://bucket/photos")
    assert run.exit_code == 2
    assert "URIs need --engine ray" in run.output
    assert not (tmp_path / "db").exists()
