"""Training the demo model (demo/train.py) at a tiny size: both families train with the shared
optimiser and their family's loss, and the result loads as its family."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from siglip_retriever import SiglipEncoder
from siglip_retriever.demo.train import TrainConfig, train
from siglip_retriever.errors import ConfigurationError


@pytest.mark.parametrize(("family", "score_kind"), [("siglip", "sigmoid"), ("clip", "softmax")])
def test_a_tiny_training_run_saves_a_checkpoint_of_its_family(
    family: str, score_kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = TrainConfig(
        family=family,
        steps=3,
        batch_size=16,
        warmup_steps=1,
        hidden_size=32,
        intermediate_size=64,
        num_layers=1,
        num_heads=2,
        pool_per_class=2,
        eval_per_class=1,
        threads=1,
    )
    threads = torch.get_num_threads()
    report = train(tmp_path / "model", config)
    assert torch.get_num_threads() == threads  # the process's setting given back (other tests' floats)
    assert report["config"]["family"] == family and report["final_loss"] > 0 and report["threads"] == 1
    encoder = SiglipEncoder(tmp_path / "model", device="cpu")
    assert (encoder.family, encoder.score_kind, encoder.text_length) == (family, score_kind, 12)
    assert "step 3/3" in capsys.readouterr().out


def test_a_family_the_demo_cannot_build_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown family 'siglip2'"):
        train(tmp_path, TrainConfig(family="siglip2"))
