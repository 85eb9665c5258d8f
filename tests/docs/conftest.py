"""The docs' tests: at the end of a session that ran them, how many snippets ran, page by page."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print, page by page, the blocks run and the blocks marked not-run (with their reasons)."""
    if not any("tests/docs" in report.nodeid for report in terminalreporter.stats.get("passed", [])):
        return
    from collections import Counter

    from tests.docs.snippets import EXECUTED, ROOT, blocks, pages

    terminalreporter.section("doc snippets")
    total_run = total_not_run = 0
    for page in pages():
        found = blocks(page)
        run = sum(block.runs for block in found)
        reasons = Counter(block.not_run for block in found if block.not_run is not None)
        total_run += run
        total_not_run += sum(reasons.values())
        if run or reasons:
            why = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
            line = f"{page.relative_to(ROOT).as_posix()}: {run} to run, {sum(reasons.values())} not run"
            terminalreporter.write_line(line + (f" ({why})" if why else ""))
    terminalreporter.write_line(f"total: {total_run} snippets to run, {total_not_run} marked not-run")
    names = {page.relative_to(ROOT).as_posix() for page in pages()}
    executed = [where for where in EXECUTED if where.rsplit(":", 1)[0] in names]
    terminalreporter.write_line(f"run and passed in this session: {len(executed)} snippets")
    if not executed:
        terminalreporter.write_line("(the page tests are marked slow: -m 'not slow' leaves them out)")
