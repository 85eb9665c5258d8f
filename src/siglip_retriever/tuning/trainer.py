"""The fine-tuning run: :func:`finetune` trains a checkpoint on the user's pairs and saves it.

A checkpoint trains with its family's loss (:class:`~siglip_retriever.encoding.families.Family`):
SigLIP with the sigmoid loss (:func:`~siglip_retriever.losses.sigmoid_loss`; pairs that share a
picture or an identical caption are positives), CLIP with CLIP's softmax loss. The optimisation is
the package's one recipe (:mod:`siglip_retriever.training`, as the demo's training): AdamW, linear
warm-up then cosine decay, gradients clipped at 1. The held-out pairs are scored before and after;
the result is a ``save_pretrained`` checkpoint with a model card and a JSON report
(:mod:`siglip_retriever.tuning.report`).

Long runs save their state (:class:`~siglip_retriever.tuning.state.TrainingState`) every
``checkpoint_every`` steps (and on Ctrl+C) in ``OUT/.finetune-state/``; ``resume=True`` continues
from it, and since every batch and crop follows from the seed and the step alone, a run resumed
any number of times ends with the losses and weights an uninterrupted one would have.

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
from siglip_retriever.tuning.state import TrainingState

if TYPE_CHECKING:
    from siglip_retriever.encoding.loading import LoadedModel
    from siglip_retriever.tuning.data import TrainingPairs

__all__ = ["STATE_DIR", "FinetuneInterrupted", "finetune"]

STATE_DIR = ".finetune-state"
"""Where in the output folder a run keeps the state it resumes from (removed when it ends)."""


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
    state = _start(loaded, config, held, resume)
    total = config.total_steps(len(train.images))
    identity = _identity(loaded, pairs, config, total)
    if resume:
        state.restore(state_dir, identity)
    try:
        _train(state, loaded, train, config, total, progress, state_dir, identity)
    except KeyboardInterrupt:
        raise FinetuneInterrupted(
            f"interrupted; the state after step {TrainingState.saved_step(state_dir)} of {total} is saved "
            f"in {state_dir}: run the same command with --resume (resume=True) to go on"
        ) from None
    after, parameters = score(state.model, loaded, held), count_parameters(state.model)
    save_checkpoint(state.model, loaded, target)
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
        losses=state.losses,
        before=state.before,
        after=after,
        command=list(command or []),
    )
    write_outputs(report, target)
    shutil.rmtree(state_dir, ignore_errors=True)
    return report


def _start(loaded: LoadedModel, config: FinetuneConfig, held: TrainingPairs, resume: bool) -> TrainingState:
    """The state at step 0: the parameters of ``config.train`` trainable (LoRA-wrapped for LoRA),
    the optimiser, and the held-out scores of the base (left to the saved state on ``resume``)."""
    from siglip_retriever.training import adamw

    model = select_trainable(
        loaded.model,
        config.train,
        layers=config.layers,
        lora_rank=config.lora_rank,
        lora_alpha=config.lora_alpha,
        seed=config.seed,
    )
    optimizer = adamw(
        model,
        learning_rate=config.learning_rate or 0.0,
        logit_learning_rate=config.logit_learning_rate,
        weight_decay=config.weight_decay,
    )
    return TrainingState(model, optimizer, before={} if resume else score(model, loaded, held))


def _identity(
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
        saved = out / STATE_DIR / TrainingState.STATE_FILE
        if not saved.is_file():
            raise ConfigurationError(
                f"nothing to resume in {out}: no saved state ({STATE_DIR}/{TrainingState.STATE_FILE})"
            )
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


def _train(
    state: TrainingState,
    loaded: LoadedModel,
    data: TrainingPairs,
    config: FinetuneConfig,
    total: int,
    progress: bool,
    state_dir: Path,
    identity: dict[str, Any],
) -> None:
    """Steps ``state.step`` to ``total``, saving the state every ``config.checkpoint_every`` steps
    and when interrupted."""
    import torch
    from tqdm.auto import tqdm

    from siglip_retriever.training import family_loss, optimisation_step, set_learning_rates

    model, family = state.model, loaded.family
    warmup = max(1, round(config.warmup * total))
    bar = tqdm(
        total=total,
        initial=state.step,
        desc="fine-tuning",
        unit="step",
        disable=not progress,
        file=sys.stderr,
    )
    try:
        while state.step < total:
            set_learning_rates(state.optimizer, step=state.step, total=total, warmup_steps=warmup)
            batch = batch_for_step(
                data,
                state.step,
                batch_size=config.batch_size,
                seed=config.seed,
                crop_scale=config.crop_scale,
                flip=config.flip,
            )
            pictures = [
                augment(data.pictures[i], crop) for i, crop in zip(batch.images, batch.crops, strict=True)
            ]
            loss = family_loss(
                model,
                family,
                encode_pictures(model, loaded, pictures),
                encode_texts(model, loaded, batch.captions),
                positives=torch.from_numpy(batch.positives),
            )
            optimisation_step(model, state.optimizer, loss, family)
            state.record(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{state.losses[-1]:.4f}")
            if state.step % config.checkpoint_every == 0 and state.step < total:
                state.save(state_dir, identity)
    except KeyboardInterrupt:
        state.save(state_dir, identity)
        raise
    finally:
        bar.close()


def _peak_memory_mib(device: str) -> float:
    """The process's peak memory (RSS), or the GPU's peak allocation on CUDA, in MiB."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
