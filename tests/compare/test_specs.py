"""Model names on the comparison's command line (compare/specs.py): labels, paths, open_clip names."""

from __future__ import annotations

from pathlib import Path

import pytest

from siglip_retriever.compare import parse_model_specs
from siglip_retriever.errors import ConfigurationError


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
