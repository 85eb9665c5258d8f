"""What the commands print on a user's mistake (cli/output.py): one line on stderr, no traceback."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_cli


def test_user_errors_are_one_line(indexed: tuple[list[str], Path], tmp_path: Path) -> None:
    options, _ = indexed
    empty = run_cli(*options, "search", "   ")
    assert empty.exit_code == 1
    assert empty.stderr.strip() == "error: the query is empty; type what the picture should show"
    unknown = run_cli("--model", "no such model", "--db", str(tmp_path / "db"), "info")
    assert unknown.exit_code == 1
    assert "unknown model 'no such model'" in unknown.stderr
    assert "Traceback" not in unknown.output
    missing = run_cli(*options, "index", str(tmp_path / "missing"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
    no_store = run_cli("--db", str(tmp_path / "nowhere"), "search", "cat")
    assert no_store.exit_code == 1
    assert "no store at" in no_store.stderr
    bad_where = run_cli(*options, "search", "x", "--where", "{oops")
    assert bad_where.exit_code == 1
    assert "--where must be JSON" in bad_where.stderr
