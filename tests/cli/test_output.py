"""What the commands print (cli/output.py): one line on stderr, no traceback, on a user's mistake;
the hits table with each hit's other files and copies, a PDF entry's page, and what a picture
says around the query's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from siglip_retriever.cli.output import SAYS_WIDTH, hits_table, says_excerpt
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


SCREEN = (
    "File Edit View Window Help\nInbox (3) Sent Drafts Archive Spam Trash\n"
    "Meeting notes: the quarterly revenue grew in every region, beyond the forecast\n"
    "Reply Forward Delete Move to folder Mark as unread"
)


def test_the_hits_table_shows_what_a_picture_says_around_the_query_s_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    meta = {"source": "/d/r.pdf", "page": 4, "page_label": "4", "part": "page"}
    hits = [
        SearchHit(
            "img-1", "image", "/p/s.png", None, {}, 0.3, 0.9, 1, "says", SCREEN, ("quarterly revenue",)
        ),
        SearchHit("img-2", "image", "/d/r.pdf", None, meta, 0.2, 0.5, 2, "shows", "Outlook\n2027", ()),
        SearchHit("img-3", "image", "/p/c.png", None, {}, 0.1, 0.1, 3, "shows"),
    ]
    hits_table(hits)
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == " " * 23 + 'says: "...Meeting notes: the quarterly revenue grew in every region,..."'
    assert lines[3].endswith("r.pdf p. 4")  # its label is its number: said once
    assert lines[4].endswith('says: "Outlook 2027"')  # short words whole, even without a match
    assert lines[5].endswith("c.png")
    assert len(lines) == 6  # no says line for a picture without words


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["revenue"], "...notes: the quarterly revenue grew in every region,..."),
        (["FILE"], "File Edit View Window Help Inbox (3) Sent Drafts Archive..."),
        (["unread"], "...forecast Reply Forward Delete Move to folder Mark as unread"),
        (["not there"], "File Edit View Window Help Inbox (3) Sent Drafts Archive..."),
        (["Inbox", "unread"], "File Edit View Window Help Inbox (3) Sent Drafts Archive..."),
    ],
)
def test_the_says_excerpt_is_a_window_around_the_first_word_found(words: list[str], expected: str) -> None:
    excerpt = says_excerpt(SCREEN, words)
    assert excerpt == expected
    assert len(excerpt.strip(".")) <= SAYS_WIDTH


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
