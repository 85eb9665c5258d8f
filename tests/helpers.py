"""Helpers shared by the web app's tests: ``siglip-retriever serve`` run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def cli_server(
    arguments: Sequence[str], *, first_line: str, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Run the console script with ``arguments`` (ending in ``serve ...``) until the block ends.

    Args:
        arguments: the command line after ``siglip-retriever``.
        first_line: how the server's first line of output must start (``"Serving 2 pictures"``).
        env: variables added to this process's environment.

    Yields:
        The URL the server printed, on 127.0.0.1.
    """
    script = Path(sys.executable).with_name("siglip-retriever")
    process = subprocess.Popen(
        [str(script), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(first_line), line + (process.stderr.read() if process.stderr else "")
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
