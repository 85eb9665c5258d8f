"""The docs' code blocks, found with Sybil and run like a notebook: one page at a time, in order.

What is collected: every fenced code block of README.md and docs/**/*.md (docs/reference/ is
generated from the code, docs/hooks/ is the build's Python), found by Sybil's Markdown fence lexer
(so blocks inside lists and block quotes count too). A block runs when its language is one of
:data:`RUNNABLE` and it is not marked: a block preceded by ``<!-- not-run: REASON -->`` (blank
lines between allowed) is not collected at all, and REASON must be one of :data:`NOT_RUN_REASONS`.
Blocks of other languages (``text``, ``json``, ``toml``...) are output or files: never run.

How a page runs (:func:`page_document`, evaluated by tests/docs/test_snippets.py):

- in a fresh temporary directory (the working directory of every block of the page);
- ``python`` blocks in one namespace per page, in this process, each within :data:`TIMEOUT`;
- ``bash`` and ``sh`` blocks with ``bash -euo pipefail``; ``console`` blocks: each line starting
  with ``$ `` is a command (run the same way, in order; a line ending in ``\\`` continues it), the
  other lines are the output it shows, which is NOT compared (scores and timings differ from run
  to run): the commands must succeed, that is all. Shell blocks of a page share the directory,
  the exported variables and the current directory (``cd``) of the blocks before them;
- offline (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``), with the test environment's
  ``bin`` first on ``PATH`` (``siglip-retriever``, ``python``), each block within :data:`TIMEOUT`.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sybil import Document, Example, Region
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = {"python": "python", "py": "python", "bash": "shell", "sh": "shell", "console": "console"}
"""A fence's language -> how its block runs."""
NOT_RUN_REASONS = (
    "needs a hub checkpoint",
    "needs a GPU",
    "starts a server",
    "installs from the network; CI runs it on a fresh clone",
    "output",
)
"""The reasons a block may give for not running (notes/issue32.md: the contract with the writers)."""
TIMEOUT = 120
"""Seconds one block may take (a page's blocks should take well under 20 s in all)."""
MARKER = re.compile(r"<!--\s*not-run:\s*(?P<reason>.*?)\s*-->")
MARKER_BEFORE_BLOCK = re.compile(
    r"<!--\s*not-run:\s*(?P<reason>.*?)\s*-->[ \t]*\n(?:[ \t]*>?[ \t]*\n)*[ \t>]*$"
)
FENCE_NEXT = re.compile(r"[ \t]*\n(?:[ \t>]*\n)*[ \t>]*(?:`{3,}|~{3,})")
EXECUTED: list[str] = []
"""Where each block run in this process stood (``page:line``), in order: the session's count."""
LEXER = RawFencedCodeBlockLexer(info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE))


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    """The page, relative to the repository's root."""
    line: int
    """The line of its opening fence, from 1."""
    language: str
    source: str
    not_run: str | None
    """The reason given in its ``not-run`` marker, or ``None``."""

    @property
    def runs(self) -> bool:
        """Whether the tests run it."""
        return self.language in RUNNABLE and self.not_run is None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages(root: Path = ROOT) -> list[Path]:
    """README.md and every page of docs/ but the generated reference and the build's hooks."""
    docs = root / "docs"
    found = [
        path
        for path in sorted(docs.rglob("*.md"))
        if path.relative_to(docs).parts[0] not in ("reference", "hooks")
    ]
    return [root / "README.md", *found]


def language_of(info: str) -> str:
    """A fence's language from its info string: ``python``, ``{.python title="x"}``, ``console``."""
    words = info.strip().lstrip("{").split()
    return words[0].lstrip(".").lower() if words else ""


def blocks_and_regions(path: Path, root: Path = ROOT) -> Iterator[tuple[Block, Region]]:
    """Every fenced block of the page at ``path``, with its Sybil region."""
    text = path.read_text(encoding="utf-8")
    document = Document(text, str(path))
    for region in LEXER(document):
        before = MARKER_BEFORE_BLOCK.search(text, 0, region.start)
        line = text.count("\n", 0, region.start) + 1
        block = Block(
            page=path.relative_to(root).as_posix(),
            line=line,
            language=language_of(region.lexemes["info"]),
            source=str(region.lexemes["source"]),
            not_run=before.group("reason") if before else None,
        )
        yield block, region


def blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """Every fenced block of the page at ``path``."""
    return [block for block, _ in blocks_and_regions(path, root)]


def markers(path: Path) -> list[tuple[int, str, bool]]:
    """Every ``not-run`` marker of the page: its line, its reason, whether a code block follows it."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in MARKER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, match.group("reason"), bool(FENCE_NEXT.match(text, match.end()))))
    return found


@contextmanager
def time_limit(seconds: int, where: str) -> Iterator[None]:
    """Raise :class:`TimeoutError` in this (the main) thread after ``seconds``."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"{where}: the block ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def environment() -> dict[str, str]:
    """The environment shell blocks run in: offline, this environment's ``bin`` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    env.pop("PYTHONPATH", None)
    return env


def console_commands(source: str) -> list[str]:
    """The commands of a console block: its ``$ `` lines, with their ``\\`` continuations."""
    commands: list[str] = []
    continuing = False
    for line in source.splitlines():
        if continuing:
            commands[-1] += "\n" + line
        elif line.startswith("$ "):
            commands.append(line[2:])
        else:
            continue
        continuing = line.endswith("\\")
    return commands


def run_shell(script: str, block: Block, state: Path) -> None:
    """Run ``script`` with bash -euo pipefail, after the state the page's earlier blocks left."""
    quoted = shlex.quote(str(state))
    wrapped = (
        f"if [ -f {quoted} ]; then . {quoted}; fi\n"
        f'trap \'{{ export -p; printf "cd %q\\n" "$PWD"; }} > {quoted}\' EXIT\n'
        f"{script}\n"
    )
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", wrapped],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{block.where}: exit code {result.returncode} from\n{script}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
        )


def evaluate(example: Example, state: Path) -> None:
    """Run one block (its :class:`Block` is the region's ``parsed``); ``state``: the shell's."""
    block: Block = example.parsed
    how = RUNNABLE[block.language]
    if how == "python":
        # padded so that a traceback names the page and the line in it (and shows that line)
        code = compile("\n" * block.line + block.source, example.path, "exec")
        with time_limit(TIMEOUT, block.where):
            exec(code, example.namespace)
    elif how == "shell":
        run_shell(block.source, block, state)
    else:
        for command in console_commands(block.source):
            run_shell(command, block, state)
    EXECUTED.append(block.where)


def page_document(path: Path, state: Path, root: Path = ROOT) -> Document:
    """The page as a Sybil document whose examples are its blocks that run, in order.

    ``state`` is the file where the page's shell blocks leave their variables and directory.
    """
    document = Document(path.read_text(encoding="utf-8"), str(path))

    def evaluator(example: Example) -> None:
        evaluate(example, state)

    for block, region in blocks_and_regions(path, root):
        if block.runs:
            document.add(Region(region.start, region.end, parsed=block, evaluator=evaluator))
    document.namespace["__name__"] = "__main__"
    return document
