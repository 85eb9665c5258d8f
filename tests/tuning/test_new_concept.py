"""The issue's must-show for fine-tuning: through the CLI with default settings, the demo model
learns a colour it never saw (cyan) from a few hundred English pairs, on pictures drawn with
another seed, and keeps its own classes in English and in languages the pairs never used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from siglip_retriever import SiglipEncoder
from siglip_retriever.demo.captions import NEW_COLOURS, caption
from siglip_retriever.demo.new_concept import NEW_COLOUR, class_recall, write_pairs
from siglip_retriever.demo.pictures import render_new_colour
from siglip_retriever.errors import ConfigurationError
from tests.helpers import run_cli


def test_the_new_colour_is_new_and_english_only() -> None:
    assert NEW_COLOUR in NEW_COLOURS
    assert caption("square", NEW_COLOUR, "en", 4) == "the square is cyan"
    with pytest.raises(ConfigurationError, match="unknown colour"):
        caption("square", NEW_COLOUR, "fr")
    with pytest.raises(ConfigurationError, match="unknown colour 'teal'"):
        render_new_colour("square", "teal", 0)
    with pytest.raises(ConfigurationError, match="unknown shape"):
        render_new_colour("cross", NEW_COLOUR, 0)


def test_pairs_hold_the_new_colour_in_english_and_the_old_classes(tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path, new_per_class=3, old_per_class=1, size=32, languages=("en", "fr"))
    rows = [line.split(",") for line in pairs.read_text(encoding="utf-8").splitlines()[1:]]
    new = [row for row in rows if "cyan" in row[1]]
    assert len(new) == 4 * 3 and {row[2] for row in new} == {"en"}
    templates = {"a cyan circle", "a photo of a cyan circle", "an image of a cyan circle"}
    assert {row[1] for row in new} >= templates
    assert len(rows) - len(new) == 24 * 2  # one picture per old class, English and French
    assert all((tmp_path / row[0]).is_file() for row in rows)


@pytest.mark.slow
def test_the_cli_with_default_settings_teaches_the_demo_model_cyan(tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path / "train", seed=0)  # 80 cyan pictures, 8 of each old class
    result = run_cli(
        "--model", "demo", "finetune", "--pairs", str(pairs), "--out", str(tmp_path / "tuned"), "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"] == 400  # 218 training pictures: min_steps decides
    before = class_recall(SiglipEncoder("demo"), seed=2)  # pictures of another seed
    after = class_recall(SiglipEncoder(str(tmp_path / "tuned")), seed=2)
    assert before["new"] <= 0.25  # chance: 4 classes in a gallery of 28
    assert after["new"] >= 0.9, after
    assert after["old/en"] >= 0.9, after
    for lang in ("fr", "de", "es", "zh", "ar", "ru"):  # not in the fine-tuning pairs
        assert after[f"old/{lang}"] >= 0.85, after
