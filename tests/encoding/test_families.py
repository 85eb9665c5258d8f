"""Model families (encoding/families.py): one description per family, read by loading, the presets,
the encoder and fine-tuning alike."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.families import (
    FAMILIES,
    Family,
    family_guessed,
    family_named,
    family_of_model_type,
)
from siglip_retriever.encoding.loading import load_uncached
from siglip_retriever.encoding.presets import PRESETS, Preset, resolve_model
from siglip_retriever.errors import ConfigurationError, ModelLoadError
from siglip_retriever.tuning.evaluate import encode_texts
from siglip_retriever.tuning.model import load_base

TEXTS = ["a red circle", "un cercle rouge", "", "\ud800"]  # short: "longest" pads less than the length


class _Recorder:
    """Records what reaches ``get_text_features`` and passes it on to the real model."""

    def __init__(self, model: Any) -> None:
        self.forward = model.get_text_features
        self.calls: list[dict[str, torch.Tensor]] = []

    def get_text_features(self, **inputs: torch.Tensor) -> Any:
        self.calls.append({key: value.clone() for key, value in inputs.items()})
        return self.forward(**inputs)


@pytest.mark.parametrize("family", ["siglip", "siglip2", "clip"])
def test_the_encoder_and_fine_tuning_give_the_model_the_same_tokens(
    family: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = request.getfixturevalue(f"tiny_{family}_dir")
    encoder = SiglipEncoder(checkpoint, device="cpu", batch_size=len(TEXTS))
    at_inference = _Recorder(encoder.model)
    monkeypatch.setattr(encoder.model, "get_text_features", at_inference.get_text_features)
    vectors = encoder.encode_texts(TEXTS)
    monkeypatch.undo()

    loaded = load_base(str(checkpoint), "cpu")  # fine-tuning's own copy of the checkpoint
    in_tuning = _Recorder(loaded.model.eval())
    with torch.no_grad():
        tuned_vectors = encode_texts(in_tuning, loaded, TEXTS).numpy()

    [seen], [trained] = at_inference.calls, in_tuning.calls
    assert seen.keys() == trained.keys()
    assert all(torch.equal(seen[key], trained[key]) for key in seen)
    rule = FAMILIES[family]
    width = seen["input_ids"].shape[1]
    assert width == encoder.text_length if rule.padding == "max_length" else width < encoder.text_length
    np.testing.assert_allclose(vectors, tuned_vectors, atol=1e-6)


@pytest.mark.parametrize("name", ["demo", "demo-clip"])
def test_the_bundled_tokenizers_return_a_mask_where_their_family_says(name: str) -> None:
    preset = resolve_model(name)
    loaded = load_uncached(preset, "cpu", "float32")
    assert ("attention_mask" in loaded.tokenize(["a red circle"])) == loaded.family.attention_mask
    assert loaded.family is FAMILIES[preset.family]


def test_presets_take_their_score_kind_from_their_family() -> None:
    for preset in PRESETS.values():
        assert preset.score_kind == FAMILIES[preset.family].score_kind
    assert (PRESETS["clip"].score_kind, PRESETS["demo-clip"].score_kind) == ("softmax", "softmax")
    with pytest.raises(ConfigurationError, match="unknown model family 'blip'; choose one of siglip"):
        Preset("x", "org/x", family="blip")


def test_a_family_is_found_by_model_type_and_guessed_from_a_name() -> None:
    assert family_of_model_type("siglip2") is FAMILIES["siglip2"]
    assert family_of_model_type("bert") is None
    assert family_guessed("google/siglip2-base-patch16-224").name == "siglip2"
    assert family_guessed("google/siglip-base-patch16-224").name == "siglip"
    assert family_guessed("openai/clip-vit-base-patch32").name == "clip"
    guessed = resolve_model("openai/clip-vit-large-patch14")
    assert (guessed.family, guessed.score_kind, guessed.text_length) == ("clip", "softmax", 77)
    assert family_named("clip").max_logit_scale == pytest.approx(np.log(100.0))
    assert [f.has_bias for f in FAMILIES.values()] == [f.score_kind == "sigmoid" for f in FAMILIES.values()]


def test_a_checkpoint_of_no_family_is_refused_with_the_types_that_load(
    tiny_siglip_dir: Path, tmp_path: Path
) -> None:
    from transformers import BertConfig, BertModel

    folder = Path(shutil.copytree(tiny_siglip_dir, tmp_path / "bert"))
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    config = BertConfig(
        vocab_size=64, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=16
    )
    BertModel(config).save_pretrained(folder)
    with pytest.raises(ModelLoadError, match=r"'bert' checkpoint; .* types 'siglip', 'siglip2', 'clip'"):
        SiglipEncoder(folder, device="cpu")


def test_tokenize_pads_and_truncates_by_the_family_rule(tiny_siglip_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_siglip_dir)
    longest = Family(**{**vars(FAMILIES["siglip"]), "name": "test", "padding": "longest"})
    short, padded = longest.tokenize(tokenizer, ["a"], 16), FAMILIES["siglip"].tokenize(tokenizer, ["a"], 16)
    assert short["input_ids"].shape[1] < padded["input_ids"].shape[1] == 16
    assert FAMILIES["siglip"].tokenize(tokenizer, ["word " * 50], 16)["input_ids"].shape == (1, 16)
    assert "token_type_ids" not in padded
