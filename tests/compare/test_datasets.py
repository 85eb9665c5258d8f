"""Reading comparison data and model names; the open_clip backend as far as it runs without open_clip."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from siglip_retriever.compare import compare_models, load_classes, load_pairs, parse_model_specs
from siglip_retriever.compare.report import check_formats
from siglip_retriever.encoding.backends import ImageTextEncoder, is_open_clip, load_encoder
from siglip_retriever.encoding.backends.open_clip import OpenClipEncoder, import_open_clip, parse_open_clip_id
from siglip_retriever.errors import ConfigurationError, MissingDependencyError, ModelLoadError


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


def test_model_specs_and_labels(tmp_path: Path) -> None:
    checkpoint = tmp_path / "my-clip"
    checkpoint.mkdir()
    specs = parse_model_specs(f"demo, {checkpoint},mine=google/siglip-base-patch16-224,open_clip:ViT-B-32/x,")
    assert [(s.label, s.model) for s in specs] == [
        ("demo", "demo"),
        ("my-clip", str(checkpoint)),
        ("mine", "google/siglip-base-patch16-224"),
        ("open_clip:ViT-B-32/x", "open_clip:ViT-B-32/x"),
    ]
    with pytest.raises(ConfigurationError, match="two models are labelled 'demo'"):
        parse_model_specs(["demo", "demo"])
    with pytest.raises(ConfigurationError, match="at least one model"):
        parse_model_specs([])


def test_open_clip_names_are_parsed_as_open_clip_reads_them() -> None:
    assert is_open_clip("open_clip:ViT-B-32/laion2b_s34b_b79k")
    assert not is_open_clip("openai/clip-vit-base-patch32")
    assert parse_open_clip_id("open_clip:ViT-B-32/laion2b_s34b_b79k") == ("ViT-B-32", "laion2b_s34b_b79k")
    assert parse_open_clip_id("nllb-clip-base-siglip/v1") == ("nllb-clip-base-siglip", "v1")
    assert parse_open_clip_id("open_clip:ViT-B-32") == ("ViT-B-32", None)
    assert parse_open_clip_id("open_clip:ViT-B-32//weights/model.pt") == ("ViT-B-32", "/weights/model.pt")
    assert parse_open_clip_id("open_clip:hf-hub:visheratin/nllb-clip-base-siglip") == (
        "hf-hub:visheratin/nllb-clip-base-siglip",
        None,
    )
    assert parse_open_clip_id("open_clip:local-dir:/models/x") == ("local-dir:/models/x", None)
    for bad in (
        "open_clip:",
        "open_clip:ViT-B-32/",
        "open_clip:/tag",
        "open_clip:hf-hub:no-org",
        "local-dir:",
    ):
        with pytest.raises(ConfigurationError):
            parse_open_clip_id(bad)


def _hide(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``module`` look uninstalled, whatever this environment holds."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == module else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_open_clip_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _hide(monkeypatch, "open_clip")
    with pytest.raises(MissingDependencyError) as info:
        OpenClipEncoder("open_clip:hf-hub:visheratin/nllb-clip-base-siglip")
    assert info.value.package == "open_clip_torch"
    assert "open_clip models needs the 'open_clip_torch' package" in str(info.value)
    assert "pip install 'siglip-retriever[open-clip]'" in str(info.value)
    with pytest.raises(MissingDependencyError):
        load_encoder("open_clip:ViT-B-32/laion2b_s34b_b79k")
    _picture(tmp_path / "a.png")
    (tmp_path / "pairs.csv").write_text("image,caption\na.png,red\n", encoding="utf-8")
    with pytest.raises(MissingDependencyError):
        compare_models(["open_clip:ViT-B-32/laion2b_s34b_b79k"], pairs=tmp_path / "pairs.csv", isolate=False)
    # a malformed name fails before anything is imported or loaded
    with pytest.raises(ConfigurationError):
        compare_models(["open_clip:ViT-B-32/"], pairs=tmp_path / "pairs.csv")


def test_open_clip_that_fails_to_import_is_a_load_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # installed (a spec is found) but broken, as with a torchvision built for another torch
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: object())
    monkeypatch.setitem(sys.modules, "open_clip", None)  # makes `import open_clip` raise ImportError
    with pytest.raises(ModelLoadError, match=r"installed but cannot be imported.*torchvision"):
        import_open_clip()


def test_factory_loads_transformers_checkpoints_behind_the_protocol(tiny_clip_dir: Path) -> None:
    encoder = load_encoder(str(tiny_clip_dir), device="cpu", batch_size=2)
    assert isinstance(encoder, ImageTextEncoder)
    assert (encoder.family, encoder.score_kind, encoder.logit_bias) == ("clip", "softmax", 0.0)
    assert encoder.encode_texts(["a red circle"]).shape == (1, encoder.dim)


def test_output_formats_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_formats("table, markdown,json,csv,png,md") == ["table", "md", "json", "csv", "png"]
    with pytest.raises(ConfigurationError, match="unknown format 'pdf'"):
        check_formats("md,pdf")
    _hide(monkeypatch, "matplotlib")
    with pytest.raises(MissingDependencyError, match=r"siglip-retriever\[compare\]"):
        check_formats(["png"])
    assert check_formats(["json"]) == ["json"]
