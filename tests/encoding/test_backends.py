"""Other model families behind the encoder protocol (encoding/backends/): open_clip as far as it runs
without open_clip installed, and transformers checkpoints through the same factory."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from PIL import Image

from siglip_retriever.compare import compare_models
from siglip_retriever.encoding.backends import ImageTextEncoder, is_open_clip, load_encoder
from siglip_retriever.encoding.backends.open_clip import OpenClipEncoder, import_open_clip, parse_open_clip_id
from siglip_retriever.errors import ConfigurationError, MissingDependencyError, ModelLoadError
from tests.helpers import hide_module


def _picture(path: Path, colour: str = "red") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), colour).save(path)
    return path


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


def test_open_clip_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hide_module(monkeypatch, "open_clip")
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
