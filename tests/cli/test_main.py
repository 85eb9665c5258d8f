"""The installed ``siglip-retriever`` console script (``siglip_retriever.cli:main``), end to end in
child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_console_script_end_to_end(tiny_siglip_dir: Path, tmp_path: Path, photos: Path) -> None:
    script = Path(sys.executable).with_name("siglip-retriever")
    base = [str(script), "--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db")]
    indexed = subprocess.run([*base, "index", str(photos)], capture_output=True, text=True, timeout=300)
    assert indexed.returncode == 0, indexed.stderr
    assert "4 added" in indexed.stdout
    searched = subprocess.run(
        [*base, "search", "a red circle", "--json"], capture_output=True, text=True, timeout=300
    )
    assert searched.returncode == 0, searched.stderr
    assert len(json.loads(searched.stdout)["hits"]) == 4
    assert "Loading weights" not in searched.stderr  # library noise is hidden without --verbose
