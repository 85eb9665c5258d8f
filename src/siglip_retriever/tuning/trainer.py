"""The fine-tuning run: :func:`finetune` trains a checkpoint on the user's pairs and saves it.

SigLIP checkpoints train with the sigmoid loss (:func:`~siglip_retriever.losses.sigmoid_loss`;
pairs that share a picture or an identical caption are positives), CLIP checkpoints with CLIP's
softmax loss. AdamW, linear warm-up then cosine decay, gradients clipped at 1. The held-out pairs
are scored before and after; the result is a ``save_pretrained`` checkpoint with a model card and
a JSON report (:mod:`siglip_retriever.tuning.report`).

Long runs save their state every ``checkpoint_every`` steps (and on Ctrl+C) in
``OUT/.finetune-state/``; ``resume=True`` continues from it, and since every batch and crop
follows from the seed and the step alone, a resumed run ends with the weights an uninterrupted
one would have.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from siglip_retriever.compare.sample import write_demo_dataset
    >>> from siglip_retriever.tuning import FinetuneConfig, finetune
    >>> root = Path(tempfile.mkdtemp())
    >>> pairs, _ = write_demo_dataset(root / "data", per_class=1, size=32)
    >>> report = finetune(pairs, root / "tuned", model="demo", config=FinetuneConfig(steps=2), progress=False)
    >>> report.steps, (root / "tuned" / "config.json").is_file()
    (2, True)
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError, SiglipRetrieverError
from siglip_retriever.tuning.config import FinetuneConfig
from siglip_retriever.tuning.data import augment, batch_for_step, describe, read_pairs, split_by_image
from siglip_retriever.tuning.evaluate import encode_pictures, encode_texts, score
from siglip_retriever.tuning.model import count_parameters, load_base, save_checkpoint, select_trainable
from siglip_retriever.tuning.report import FinetuneReport, write_outputs

if TYPE_CHECKING:
    import torch

    from siglip_retriever.encoding.loading import LoadedModel
    from siglip_retriever.tuning.data import TrainingPairs

__all__ = ["STATE_DIR", "FinetuneInterrupted", "finetune"]

STATE_DIR = ".finetune-state"
"""Where in the output folder a run keeps the state it resumes from (removed when it ends)."""

_CLIP_MAX_LOGIT_SCALE = math.log(100.0)


class FinetuneInterrupted(SiglipRetrieverError):
    """A run stopped by Ctrl+C; its state is saved, and ``resume=True`` continues it."""


def finetune(
    pairs: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model: str | None = None,
    config: FinetuneConfig | None = None,
    held_out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    command: Sequence[str] | None = None,
) -> FinetuneReport:
    """Fine-tune ``model`` on ``pairs`` and save the result as a checkpoint in ``out``.

    Args:
        pairs: a CSV or JSON Lines file of ``image``, ``caption`` and optional ``language``.
        out: the folder for the checkpoint, its ``README.md`` and ``finetune-report.json``.
        model: the base checkpoint (a preset, a directory, a hub id; default: the package's).
        config: the run's choices (default :class:`FinetuneConfig`).
        held_out: pairs to score on; by default ``config.held_out`` of the pictures of ``pairs``.
        resume: continue the interrupted run whose state is in ``out``.
        progress: show a progress bar with the loss (on stderr).
        command: the command line that started the run, for the model card.

    Returns:
        The run's :class:`~siglip_retriever.tuning.report.FinetuneReport`.

    Raises:
        ConfigurationError: bad pairs (every wrong line listed), a bad choice, an ``out`` that
            holds something else, or ``resume`` without a saved state.
        FinetuneInterrupted: Ctrl+C; the state is saved.
    """
    config = config or FinetuneConfig()
    target = Path(out).expanduser()
    state_dir = target / STATE_DIR
    _check_out(target, resume)
    started = time.perf_counter()
    loaded, train, held = _load(pairs, model, config, held_out)
    config = config.resolved(int(loaded.model.config.text_config.hidden_size))
    trained = _trainable(loaded, config)
    optimizer = _optimizer(trained, config)
    total = config.total_steps(len(train.images))
    meta = _meta(loaded, pairs, config, total)
    if resume:
        step, before, losses = _restore(state_dir, meta, trained, optimizer)
    else:
        step, before, losses = 0, score(trained, loaded, held), []
    try:
        losses += _train(
            trained, loaded, optimizer, train, config, step, total, progress, state_dir, meta, before
        )
    except KeyboardInterrupt:
        raise FinetuneInterrupted(
            f"interrupted; the state after step {_saved_step(state_dir)} of {total} is saved in {state_dir}: "
            "run the same command with --resume (resume=True) to go on"
        ) from None
    after, parameters = score(trained, loaded, held), count_parameters(trained)
    save_checkpoint(trained, loaded, target)
    report = FinetuneReport(
        base_model=loaded.preset.reference,
        out=str(target),
        config=config.to_dict(),
        training=describe(train),
        held_out=describe(held),
        held_out_source=str(held_out) if held_out is not None else f"{config.held_out:.0%} of the pictures",
        steps=total,
        seconds=time.perf_counter() - started,
        peak_memory_mib=_peak_memory_mib(loaded.device),
        parameters=parameters,
        losses=losses,
        before=before,
        after=after,
        command=list(command or []),
    )
    write_outputs(report, target)
    shutil.rmtree(state_dir, ignore_errors=True)
    return report


def _trainable(loaded: LoadedModel, config: FinetuneConfig) -> Any:
    """The base model with the parameters of ``config.train`` trainable (LoRA-wrapped for LoRA)."""
    return select_trainable(
        loaded.model,
        config.train,
        layers=config.layers,
        lora_rank=config.lora_rank,
        lora_alpha=config.lora_alpha,
        seed=config.seed,
    )


def _meta(
    loaded: LoadedModel, pairs: str | os.PathLike[str], config: FinetuneConfig, total: int
) -> dict[str, Any]:
    """What a resumed run must share with the run it continues."""
    return {
        "model": loaded.preset.reference,
        "pairs": str(Path(pairs).resolve()),
        "config": config.to_dict(),
        "steps": total,
    }


def _load(
    pairs: str | os.PathLike[str],
    model: str | None,
    config: FinetuneConfig,
    held_out: str | os.PathLike[str] | None,
) -> tuple[LoadedModel, TrainingPairs, TrainingPairs]:
    """The base model, and the pairs to train on and to score on."""
    loaded = load_base(model, config.device)
    data = read_pairs(pairs, image_size=loaded.preset.image_size)
    if held_out is not None:
        return loaded, data, read_pairs(held_out, image_size=loaded.preset.image_size)
    train, held = split_by_image(data, config.held_out, config.seed)
    return loaded, train, held


def _check_out(out: Path, resume: bool) -> None:
    """``out`` must be new, empty, an earlier result (a checkpoint), or, to resume, hold a state."""
    if resume:
        if not (out / STATE_DIR / "state.pt").is_file():
            raise ConfigurationError(f"nothing to resume in {out}: no saved state ({STATE_DIR}/state.pt)")
        return
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"{out} is a file; --out must be a folder")
    if out.is_dir() and any(out.iterdir()):
        if (out / STATE_DIR).is_dir():
            raise ConfigurationError(
                f"{out} holds an interrupted run; add --resume to go on, or pick another --out"
            )
        if not (out / "config.json").is_file():
            raise ConfigurationError(f"{out} is not empty and holds no checkpoint; pick another --out")


def _optimizer(model: Any, config: FinetuneConfig) -> torch.optim.Optimizer:
    """AdamW: weight decay on the matrices only; the temperature and the bias at their own rate."""
    import torch

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    logit = [p for n, p in trainable if n.endswith(("logit_scale", "logit_bias"))]
    rest = [(n, p) for n, p in trainable if not n.endswith(("logit_scale", "logit_bias"))]
    rate, logit_rate = config.learning_rate or 0.0, config.logit_learning_rate
    groups = [  # "base_lr": the peak the schedule scales (kept in a saved state, unlike "lr")
        {"params": [p for _, p in rest if p.ndim >= 2], "weight_decay": config.weight_decay, "base_lr": rate},
        {"params": [p for _, p in rest if p.ndim < 2], "weight_decay": 0.0, "base_lr": rate},
        {"params": logit, "weight_decay": 0.0, "lr": logit_rate, "base_lr": logit_rate},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=rate, betas=(0.9, 0.98), eps=1e-6)


def _rate(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over ``warmup`` of the steps, then cosine decay to zero (a factor)."""
    warm = max(1, round(warmup * total))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def _train(
    model: Any,
    loaded: LoadedModel,
    optimizer: torch.optim.Optimizer,
    data: TrainingPairs,
    config: FinetuneConfig,
    start: int,
    total: int,
    progress: bool,
    state_dir: Path,
    meta: dict[str, Any],
    before: dict[str, Any],
) -> list[float]:
    """Steps ``start`` to ``total``; the loss of each."""
    import torch
    from tqdm.auto import tqdm

    from siglip_retriever.losses import get_loss

    is_clip = loaded.preset.family == "clip"
    loss_function = get_loss("softmax" if is_clip else "sigmoid")
    losses: list[float] = []
    bar = tqdm(
        total=total, initial=start, desc="fine-tuning", unit="step", disable=not progress, file=sys.stderr
    )
    step = start
    try:
        for step in range(start, total):
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * _rate(step, total, config.warmup)
            batch = batch_for_step(
                data,
                step,
                batch_size=config.batch_size,
                seed=config.seed,
                crop_scale=config.crop_scale,
                flip=config.flip,
            )
            pictures = [
                augment(data.pictures[i], crop) for i, crop in zip(batch.images, batch.crops, strict=True)
            ]
            loss = loss_function(
                encode_pictures(model, loaded, pictures),
                encode_texts(model, loaded, batch.captions),
                logit_scale=model.logit_scale,
                logit_bias=None if is_clip else model.logit_bias,
                positives=torch.from_numpy(batch.positives),
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            if is_clip:
                with torch.no_grad():
                    model.logit_scale.clamp_(0, _CLIP_MAX_LOGIT_SCALE)
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if (step + 1) % config.checkpoint_every == 0 and step + 1 < total:
                _save_state(state_dir, meta, model, optimizer, step + 1, before, losses)
    except KeyboardInterrupt:
        _save_state(state_dir, meta, model, optimizer, step, before, losses[: step - start])
        raise
    finally:
        bar.close()
    return losses


def _save_state(
    state_dir: Path,
    meta: dict[str, Any],
    model: Any,
    optimizer: torch.optim.Optimizer,
    step: int,
    before: dict[str, Any],
    losses: list[float],
) -> None:
    """Save what a resumed run needs, atomically: the weights that train, the optimizer, the step."""
    import torch

    state_dir.mkdir(parents=True, exist_ok=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    state = {
        "step": step,
        "model": {k: v for k, v in model.state_dict().items() if k in trainable},
        "optimizer": optimizer.state_dict(),
    }
    torch.save(state, state_dir / "state.pt.tmp")
    os.replace(state_dir / "state.pt.tmp", state_dir / "state.pt")
    (state_dir / "meta.json").write_text(
        json.dumps({**meta, "step": step, "before": before, "losses": losses})
    )


def _restore(
    state_dir: Path, meta: dict[str, Any], model: Any, optimizer: torch.optim.Optimizer
) -> tuple[int, dict[str, Any], list[float]]:
    """Load a saved state into ``model`` and ``optimizer``: the step, the scores before, the losses."""
    import torch

    saved = json.loads((state_dir / "meta.json").read_text())
    differs = [key for key in ("model", "pairs", "config", "steps") if saved.get(key) != meta[key]]
    if differs:
        raise ConfigurationError(
            f"the saved run in {state_dir} was started with another {', '.join(differs)}; run the "
            "same command as before with --resume, or start a new run in another --out"
        )
    state = torch.load(state_dir / "state.pt", weights_only=True)
    model.load_state_dict(state["model"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"]), saved["before"], list(saved["losses"])


def _saved_step(state_dir: Path) -> int:
    try:
        return int(json.loads((state_dir / "meta.json").read_text())["step"])
    except (OSError, ValueError, KeyError):
        return 0


def _peak_memory_mib(device: str) -> float:
    """The process's peak memory (RSS), or the GPU's peak allocation on CUDA, in MiB."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
