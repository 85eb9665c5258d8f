"""The ``demo`` command (cli/demo.py): the offline walkthrough on the bundled demo model, as JSON and text."""

from __future__ import annotations

import json
from pathlib import Path

from siglip_retriever.demo.data import LANGUAGES
from tests.helpers import run_cli


def _class(path: str | None) -> str:
    return "_".join(Path(path or "").stem.split("_")[:2])


def test_demo_command(tmp_path: Path) -> None:
    result = run_cli("--device", "cpu", "demo", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [q["language"] for q in data["queries"]] == list(LANGUAGES)
    assert all(q["correct"] for q in data["queries"]), [
        q["query"] for q in data["queries"] if not q["correct"]
    ]
    assert _class(data["similar"]["hits"][0]["uri"]) == "blue_star"
    assert data["classify"]["top"] == "green triangle"
    text = run_cli("--device", "cpu", "demo", "--out", str(tmp_path / "again"))
    assert text.exit_code == 0
    assert "7/7 languages found a red circle first" in text.stdout
