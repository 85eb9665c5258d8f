"""Fine-tuning runs (tuning/trainer.py, model.py, report.py) on the bundled demo checkpoints: what
trains, what is saved and loads everywhere, resuming, the CLI, and a store that refuses the result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from siglip_retriever import MultimodalStore, SiglipEncoder
from siglip_retriever.compare.sample import write_demo_dataset
from siglip_retriever.errors import ConfigurationError, ModelMismatchError
from siglip_retriever.tuning import FinetuneConfig, FinetuneInterrupted, finetune
from siglip_retriever.tuning import trainer as trainer_module
from siglip_retriever.tuning.trainer import STATE_DIR
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's sample pairs: 24 pictures, each captioned in 7 languages."""
    pairs_file, _ = write_demo_dataset(tmp_path_factory.mktemp("pairs"), per_class=1, size=48)
    return pairs_file


RESUMABLE = {"steps": 6, "batch_size": 8, "checkpoint_every": 2, "train": "lora"}
"""A short run that saves its state twice, for the resume tests."""


@pytest.fixture(scope="module")
def straight(pairs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The report and the folder of a :data:`RESUMABLE` run that was never stopped."""
    out = tmp_path_factory.mktemp("straight") / "tuned"
    return _run(pairs, out, **RESUMABLE), out


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(next(folder.glob("*.safetensors"))))


def _run(pairs: Path, out: Path, **config: Any) -> Any:
    return finetune(pairs, out, model="demo", config=FinetuneConfig(**config), progress=False)


@pytest.mark.parametrize("train", ["all", "last", "lora"])
def test_each_way_of_training_saves_a_checkpoint_the_package_loads(
    pairs: Path, tmp_path: Path, train: str
) -> None:
    out = tmp_path / "tuned"
    report = _run(pairs, out, train=train, steps=4, batch_size=8, layers=1)
    trainable, total = report.parameters
    assert {"all": trainable == total, "last": 0 < trainable < total, "lora": 0 < trainable < total / 10}[
        train
    ]
    base, tuned = _weights(Path(SiglipEncoder("demo").preset.model_id)), _weights(out)
    assert set(tuned) == set(base)  # LoRA adapters merged: the base's weights, no adapter keys
    changed = {name for name in base if not torch.equal(base[name], tuned[name])}
    if train == "last":
        assert changed and not any(".layers.0." in name or ".layers.1." in name for name in changed)
    if train == "lora":
        assert any("self_attn.q_proj.weight" in name for name in changed)
    assert "logit_bias" in changed
    encoder = SiglipEncoder(out)
    assert encoder.encode_texts(["a red circle"]).shape == (1, 96)
    card = (out / "README.md").read_text()
    assert "base_model: demo" in card and "Held-out Recall@k" in card
    saved = json.loads((out / "finetune-report.json").read_text())
    assert saved["steps"] == 4 and saved["config"]["train"] == train
    assert set(saved["after"]) == {"overall", "ar", "de", "en", "es", "fr", "ru", "zh"}
    assert not (out / STATE_DIR).exists()


def test_a_clip_checkpoint_trains_with_the_softmax_loss(pairs: Path, tmp_path: Path) -> None:
    report = finetune(
        pairs,
        tmp_path / "clip",
        model="demo-clip",
        config=FinetuneConfig(steps=3, batch_size=8),
        progress=False,
    )
    assert report.steps == 3 and all(loss > 0 for loss in report.losses)
    assert SiglipEncoder(tmp_path / "clip").score_kind == "softmax"


def test_an_interrupted_run_resumes_to_the_same_weights(
    pairs: Path, straight: tuple[Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = RESUMABLE
    real = trainer_module.batch_for_step

    def stop_at_five(data: Any, step: int, **kwargs: Any) -> Any:
        if step == 5:
            raise KeyboardInterrupt
        return real(data, step, **kwargs)

    monkeypatch.setattr(trainer_module, "batch_for_step", stop_at_five)
    with pytest.raises(FinetuneInterrupted, match=r"after step 5 of 6 .* --resume"):
        _run(pairs, tmp_path / "stopped", **options)
    monkeypatch.setattr(trainer_module, "batch_for_step", real)
    with pytest.raises(ConfigurationError, match="interrupted run; add --resume"):
        _run(pairs, tmp_path / "stopped", **options)
    with pytest.raises(ConfigurationError, match="another config"):
        finetune(
            pairs,
            tmp_path / "stopped",
            model="demo",
            config=FinetuneConfig(**{**options, "seed": 1}),
            resume=True,
            progress=False,
        )
    state_file = tmp_path / "stopped" / STATE_DIR / "state.pt"
    saved = torch.load(state_file, weights_only=True)
    torch.save({key: value for key, value in saved.items() if key != "meta"}, state_file)  # as 0.5 saved
    with pytest.raises(ConfigurationError, match=r"saved by siglip-retriever 0\.5 or older"):
        finetune(pairs, tmp_path / "stopped", model="demo", config=FinetuneConfig(**options), resume=True)
    torch.save(saved, state_file)
    report = finetune(
        pairs,
        tmp_path / "stopped",
        model="demo",
        config=FinetuneConfig(**options),
        resume=True,
        progress=False,
    )
    assert report.losses == straight[0].losses
    weights, resumed = _weights(straight[1]), _weights(tmp_path / "stopped")
    assert all(torch.equal(weights[name], resumed[name]) for name in weights)


@pytest.mark.parametrize("second", ["ctrl-c", "killed"])
def test_a_run_interrupted_twice_resumes_to_the_same_losses_and_weights(
    pairs: Path, straight: tuple[Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second: str
) -> None:
    """Ctrl+C at step 3, resume; then Ctrl+C at step 5 (the state saved then) or a kill at step 5
    (the checkpoint of step 4, written by the resumed run), resume: the report has every loss from
    step 0, and the weights are those of the run that was never stopped."""
    (reference, reference_out), out, real = straight, tmp_path / "stopped", trainer_module.batch_for_step

    def run_until(stop: int, error: type[BaseException], resume: bool) -> None:
        def batch(data: Any, step: int, **kwargs: Any) -> Any:
            if step == stop:
                raise error
            return real(data, step, **kwargs)

        monkeypatch.setattr(trainer_module, "batch_for_step", batch)
        expected = FinetuneInterrupted if error is KeyboardInterrupt else error
        with pytest.raises(expected):
            finetune(
                pairs, out, model="demo", config=FinetuneConfig(**RESUMABLE), resume=resume, progress=False
            )

    run_until(3, KeyboardInterrupt, resume=False)
    saved = json.loads((out / STATE_DIR / "meta.json").read_text())
    assert (saved["step"], saved["losses"]) == (3, reference.losses[:3])
    run_until(5, KeyboardInterrupt if second == "ctrl-c" else SystemExit, resume=True)
    saved = json.loads((out / STATE_DIR / "meta.json").read_text())
    stopped_at = 5 if second == "ctrl-c" else 4
    assert (saved["step"], saved["losses"]) == (stopped_at, reference.losses[:stopped_at])
    monkeypatch.setattr(trainer_module, "batch_for_step", real)
    resumed = finetune(
        pairs, out, model="demo", config=FinetuneConfig(**RESUMABLE), resume=True, progress=False
    )
    assert resumed.losses == reference.losses and len(resumed.losses) == 6
    assert resumed.before == reference.before and resumed.after == reference.after
    weights, weights_resumed = _weights(reference_out), _weights(out)
    assert all(torch.equal(weights[name], weights_resumed[name]) for name in weights)


@pytest.mark.slow
def test_a_killed_cli_run_resumes_where_it_would_have_ended(pairs: Path, tmp_path: Path) -> None:
    arguments = [
        "--model",
        "demo",
        "finetune",
        "--pairs",
        str(pairs),
        "--steps",
        "40",
        "--batch-size",
        "8",
        "--checkpoint-every",
        "5",
        "--json",
    ]
    straight = run_cli(*arguments, "--out", str(tmp_path / "straight"))
    assert straight.exit_code == 0, straight.output
    script = Path(sys.executable).with_name("siglip-retriever")
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [str(script), *arguments, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    state = out / STATE_DIR / "meta.json"
    deadline = time.monotonic() + 120
    while (
        not (state.is_file() and json.loads(state.read_text())["step"] >= 10) and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "finetune-report.json").exists()
    resumed = run_cli(*arguments, "--out", str(out), "--resume")
    assert resumed.exit_code == 0, resumed.output
    a, b = json.loads(straight.stdout), json.loads(resumed.stdout)
    for scope in a["after"]:
        for direction in ("text_to_image", "image_to_text"):
            for k, value in a["after"][scope][direction].items():
                assert abs(value - b["after"][scope][direction][k]) <= 0.02
    weights_a, weights_b = _weights(tmp_path / "straight"), _weights(out)
    assert all(torch.allclose(weights_a[n], weights_b[n], atol=1e-6) for n in weights_a)


def test_the_cli_reports_and_writes_the_checkpoint(pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "tuned"
    result = run_cli(
        "finetune",
        "--pairs",
        str(pairs),
        "--out",
        str(out),
        "--model",
        "demo",
        "--steps",
        "3",
        "--train",
        "last",
        "--layers",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "fine-tuned demo on" in result.output and "text->image" in result.output
    assert f"saved to {out}" in result.output
    card = (out / "README.md").read_text()
    assert "siglip-retriever finetune --pairs" in card or "finetune" in card
    again = run_cli(
        "--model", "demo", "finetune", "--pairs", str(pairs), "--out", str(out), "--steps", "2",
        "--lr", "1e-4", "--logit-lr", "2e-3", "--held-out-share", "0.25", "--lora-rank", "4", "--flip",
    )  # fmt: skip
    assert again.exit_code == 0, again.output  # an earlier result may be replaced
    config = json.loads((out / "finetune-report.json").read_text())["config"]
    assert (config["learning_rate"], config["logit_learning_rate"], config["held_out"]) == (1e-4, 2e-3, 0.25)
    assert (config["lora_rank"], config["lora_alpha"], config["flip"], config["steps"]) == (4, 8, True, 2)
    held = run_cli(
        "--model", "demo", "finetune", "--pairs", str(pairs), "--out", str(out), "--steps", "1",
        "--held-out", str(pairs), "--json",
    )  # fmt: skip
    assert held.exit_code == 0, held.output
    assert json.loads(held.stdout)["held_out_source"] == str(pairs)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    refused = run_cli("--model", "demo", "finetune", "--pairs", str(pairs), "--out", str(tmp_path / "other"))
    assert refused.exit_code != 0 and "not empty and holds no checkpoint" in refused.output


def test_a_bad_pairs_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pairs.csv").write_text("image,caption,score\nmissing.png,a cat,1\n")
    result = run_cli(
        "--model", "demo", "finetune", "--pairs", str(tmp_path / "pairs.csv"), "--out", str(tmp_path / "out")
    )
    assert result.exit_code != 0
    assert "error: 2 problem(s) in the pairs file" in result.output
    assert (
        "unknown column(s) 'score'" in result.output and "pairs.csv:2: the image missing.png" in result.output
    )


def test_a_store_built_with_the_base_refuses_the_tuned_model(pairs: Path, tmp_path: Path) -> None:
    _run(pairs, tmp_path / "tuned", steps=2, batch_size=8)
    store = MultimodalStore(tmp_path / "db", model="demo")
    store.add_texts(["a red circle"])
    store.close()
    with pytest.raises(ModelMismatchError, match="reindex --model NEW"):
        MultimodalStore(tmp_path / "db", model=str(tmp_path / "tuned"))


def test_compare_reads_the_result_beside_its_base(pairs: Path, tmp_path: Path) -> None:
    _run(pairs, tmp_path / "tuned", steps=2, batch_size=8)
    result = run_cli(
        "compare",
        "--models",
        f"base=demo,tuned={tmp_path / 'tuned'}",
        "--pairs",
        str(pairs),
        "--out",
        str(tmp_path / "report"),
        "--format",
        "table,json",
        "--in-process",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "comparison.json").read_text())
    assert [model["name"] for model in report["models"]] == ["base", "tuned"]
