"""Every Python and shell snippet of the README and the docs runs, offline, on the demo model.

tests/docs/snippets.py says what is collected and how a page runs (one fresh directory a page, its
blocks in order, sharing state like a notebook). Blocks that must not run carry a
``<!-- not-run: REASON -->`` marker with one of the contract's reasons; they are not collected,
and :func:`test_not_run_markers_give_a_known_reason` checks the markers. The count of blocks run
and not run, page by page, is printed at the end of the test session (tests/docs/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.snippets import NOT_RUN_REASONS, ROOT, RUNNABLE, blocks, markers, page_document, pages

RUN_PAGES = [page for page in pages() if any(block.runs for block in blocks(page))]


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES, ids=[page.relative_to(ROOT).as_posix() for page in RUN_PAGES])
def test_page_snippets_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's blocks, in order, in a fresh directory, sharing state: none fails."""
    workdir = tmp_path / "page"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    document = page_document(page, state=tmp_path / "shell-state")
    ran = 0
    for example in document:
        example.evaluate()
        ran += 1
    assert ran == sum(block.runs for block in blocks(page)) > 0


def test_snippets_are_collected() -> None:
    """The README and the docs hold snippets that run (the count is printed at the session's end)."""
    found = [block for page in pages() for block in blocks(page)]
    ran = [block for block in found if block.runs]
    assert len(ran) > 0
    assert any(block.page == "README.md" for block in ran)
    assert {RUNNABLE[block.language] for block in ran} >= {"python", "shell"}


def test_not_run_markers_give_a_known_reason() -> None:
    """Every ``not-run`` marker gives one of the contract's reasons and stands right before a block."""
    wrong = [
        f"{page.relative_to(ROOT)}:{line}: {reason!r}"
        for page in pages()
        for line, reason, _ in markers(page)
        if reason not in NOT_RUN_REASONS
    ]
    assert not wrong, f"not-run reasons must be one of {NOT_RUN_REASONS}: {wrong}"
    stray = [
        f"{page.relative_to(ROOT)}:{line}"
        for page in pages()
        for line, _, before_block in markers(page)
        if not before_block
    ]
    assert not stray, f"not-run markers must stand right before a code block: {stray}"


def test_every_block_names_its_language() -> None:
    """A fence without a language could be code or output: say which (``text`` for output)."""
    unnamed = [block.where for page in pages() for block in blocks(page) if not block.language]
    assert not unnamed, f"fenced blocks without a language (use ```text for output): {unnamed}"


def test_markers_are_read(tmp_path: Path) -> None:
    """The collector itself: marked blocks, output blocks and unmarked ones, on a page made here."""
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text(
        "# A page\n\n```python\nx = 1\n```\n\n<!-- not-run: needs a GPU -->\n\n```bash\nnvidia-smi\n```\n\n"
        "```text\nsome output\n```\n\n"
        "- a list\n\n    ```console\n    $ echo one \\\n      two\n    one two\n    ```\n",
        encoding="utf-8",
    )
    found = blocks(page, root=tmp_path)
    assert [(block.language, block.not_run, block.runs) for block in found] == [
        ("python", None, True),
        ("bash", "needs a GPU", False),
        ("text", None, False),
        ("console", None, True),
    ]
    assert markers(page) == [(7, "needs a GPU", True)]


def test_blocks_share_state_in_a_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python blocks share a namespace; shell blocks share files, exported variables and ``cd``."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nfrom pathlib import Path\nanswer = 42\nPath('made.txt').write_text('hi')\n```\n\n"
        "```python\nassert answer == 42\n```\n\n"
        '```bash\ntest "$(cat made.txt)" = hi\nexport GREETING=hello\nmkdir sub && cd sub\n```\n\n'
        '```console\n$ test "$GREETING" = hello\n'
        '$ test "$(basename "$PWD")" = sub\nwhatever it prints\n```\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    document = page_document(page, state=tmp_path / "state", root=tmp_path)
    examples = list(document)
    assert len(examples) == 4
    for example in examples:
        example.evaluate()


def test_a_failing_block_fails_with_its_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shell block that exits non-zero (``pipefail`` included) fails, naming the page and line."""
    page = tmp_path / "page.md"
    page.write_text("text\n\n```bash\nfalse | cat\necho never\n```\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    (example,) = list(page_document(page, state=tmp_path / "state", root=tmp_path))
    with pytest.raises(AssertionError, match=r"page\.md:3: exit code 1"):
        example.evaluate()


def test_a_failing_python_block_points_at_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python block's traceback names the page and the line of the page that failed."""
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n```python\nx = 1\nassert x == 2, 'x is not 2'\n```\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    (example,) = list(page_document(page, state=tmp_path / "state", root=tmp_path))
    with pytest.raises(AssertionError, match="x is not 2") as failure:
        example.evaluate()
    assert (str(page), 5) in [(str(entry.path), entry.lineno + 1) for entry in failure.traceback]
