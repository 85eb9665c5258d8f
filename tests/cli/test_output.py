"""What the commands print (cli/output.py): one line on stderr, no traceback, on a user's mistake;
the hits table with each hit's other files and copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from siglip_retriever.cli.output import hits_table
from siglip_retriever.search.hits import SearchHit
from siglip_retriever.store.files import StoredFile, paths_value
from tests.helpers import run_cli


def test_the_hits_table_counts_identical_files_and_copies(capsys: pytest.CaptureFixture[str]) -> None:
    files = paths_value([StoredFile(f"/{d}/a.jpg", 9, n) for n, d in enumerate("pqr", 1)])
    hits = [
        SearchHit("img-1", "image", "/p/a.jpg", None, {"paths": files, "duplicates": ["img-2"]}, 0.3, 0.9, 1),
        SearchHit("img-3", "image", "/p/b.jpg", None, {"duplicates": []}, 0.2, 0.5, 2),
    ]
    hits_table(hits)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("a.jpg (+2 identical files, +1 copy)")
    assert lines[2].endswith("b.jpg")


def test_user_errors_are_one_line(indexed: tuple[list[str], Path], tmp_path: Path) -> None:
    options, _ = indexed
    empty = run_cli(*options, "search", "   ")
    assert empty.exit_code == 2  # a ConfigurationError: a bad argument, as click's usage errors
    assert empty.stderr.strip() == "error: the query is empty; type what the picture should show"
    unknown = run_cli("--model", "no such model", "--db", str(tmp_path / "db"), "info")
    assert unknown.exit_code == 1
    assert "unknown model 'no such model'" in unknown.stderr
    assert "Traceback" not in unknown.output
    missing = run_cli(*options, "index", str(tmp_path / "missing"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
    no_store = run_cli("--db", str(tmp_path / "nowhere"), "search", "cat")
    assert no_store.exit_code == 2
    assert "no store at" in no_store.stderr
    bad_where = run_cli(*options, "search", "x", "--where", "{oops")
    assert bad_where.exit_code == 2
    assert "where must be a JSON object" in bad_where.stderr
