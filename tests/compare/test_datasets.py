"""Reading the comparison's data (compare/datasets.py): image-caption pairs from CSV and JSON lines,
class folders with translated labels, and the errors that say what and where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from siglip_retriever.compare import load_classes, load_pairs
from siglip_retriever.errors import ConfigurationError


def _picture(path: Path, colour: str = "red") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), colour).save(path)
    return path


def test_pairs_from_csv_and_jsonl_read_the_same(tmp_path: Path) -> None:
    _picture(tmp_path / "img" / "a.png")
    _picture(tmp_path / "img" / "b.png", "blue")
    (tmp_path / "pairs.csv").write_text(
        "Image,Caption,Language\nimg/a.png,a red square,en\nimg/a.png,un carré rouge,fr\nimg/b.png,blue,\n",
        encoding="utf-8",
    )
    rows = [
        {"path": "img/a.png", "text": "a red square", "lang": "en"},
        {"image": str(tmp_path / "img" / "a.png"), "caption": "un carré rouge", "language": "fr"},
        {"image": "img/b.png", "caption": "blue"},
    ]
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    for source in (tmp_path / "pairs.csv", jsonl):
        pairs = load_pairs(source)
        assert pairs.images == [str(tmp_path / "img" / "a.png"), str(tmp_path / "img" / "b.png")]
        assert pairs.captions == ["a red square", "un carré rouge", "blue"]
        assert pairs.caption_image == [0, 0, 1]
        assert pairs.caption_language == ["en", "fr", "und"]
        assert pairs.languages == ["en", "fr", "und"]
        assert pairs.captions_in("fr") == [1]


def test_pairs_errors_say_what_and_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_pairs(tmp_path / "nope.csv")
    cases = [  # file name, its text, the error
        (
            "missing.csv",
            "image,caption\nx.png,an x\ny.png,a y\n",
            r"2 image\(s\) named in .* do not exist: x.png, y.png",
        ),
        ("nocap.csv", "image,caption\nx.png,\n", r"nocap.csv:2: each row needs"),
        (
            "broken.jsonl",
            '{"image": "x.png", "caption": "x"}\n{not json\n',
            r"broken.jsonl:2: not valid JSON",
        ),
        ("empty.csv", "image,caption\n", "hold no image-caption pair"),
    ]
    for name, text, message in cases:
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(ConfigurationError, match=message):
            load_pairs(tmp_path / name)


def test_classes_with_translated_labels_and_fallbacks(tmp_path: Path) -> None:
    _picture(tmp_path / "golden_retriever" / "1.png")
    _picture(tmp_path / "golden_retriever" / "more" / "2.jpg")
    _picture(tmp_path / "tabby-cat" / "1.png")
    (tmp_path / "empty").mkdir()
    _picture(tmp_path / ".hidden" / "1.png")
    (tmp_path / "tabby-cat" / "notes.txt").write_text("not an image")
    plain = load_classes(tmp_path)
    assert plain.classes == ["golden_retriever", "tabby-cat"]
    assert plain.image_class == [0, 0, 1]
    assert plain.label_names == {"und": [["golden retriever"], ["tabby cat"]]}
    (tmp_path / "labels.json").write_text(
        json.dumps(
            {"golden_retriever": {"en": "a golden retriever", "de": ["ein Golden Retriever", "ein Hund"]}}
        ),
        encoding="utf-8",
    )
    labelled = load_classes(tmp_path)
    assert labelled.languages == ["de", "en"]
    # tabby-cat has no names in labels.json: its folder name stands in
    assert labelled.label_names["de"] == [["ein Golden Retriever", "ein Hund"], ["tabby cat"]]
    assert labelled.label_names["en"] == [["a golden retriever"], ["tabby cat"]]


def test_classes_errors(tmp_path: Path) -> None:
    _picture(tmp_path / "only" / "1.png")
    with pytest.raises(ConfigurationError, match="at least 2 classes"):
        load_classes(tmp_path)
    _picture(tmp_path / "other" / "1.png")
    (tmp_path / "labels.json").write_text(json.dumps({"ghost": {"en": "a ghost"}}), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="no image folder: ghost"):
        load_classes(tmp_path)
    (tmp_path / "labels.json").write_text(json.dumps({"only": "just a string"}), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="must be an object"):
        load_classes(tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_classes(tmp_path, labels=tmp_path / "nope.json")
