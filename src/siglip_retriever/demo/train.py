"""Train the bundled demo model: a tiny SigLIP on synthetic multilingual shapes, on CPU.

Run it as a module; it writes a checkpoint that loads with ``SiglipEncoder(out_dir)`` (the
``"demo"`` preset points at ``src/siglip_retriever/demo/model``)::

    python -m siglip_retriever.demo.train --out src/siglip_retriever/demo/model

What it does, seeded from ``--seed`` so that a run can be repeated:

1. trains a SentencePiece tokenizer on every caption of :mod:`siglip_retriever.demo.captions`
   (seven languages) and its words, as SigLIP's tokenizer sees them (lower case, no
   punctuation), and checks that every caption fits in the model's text length;
2. builds a small :class:`transformers.SiglipModel` with ``logit_scale = log 10`` and
   ``logit_bias = -10`` (the paper's initial values) and saves it, then loads the tokenizer and
   image processor back from that directory, so that training sees exactly the inputs the
   encoder makes at inference: the texts tokenised by the family's one rule
   (:meth:`~siglip_retriever.encoding.families.Family.tokenize`: ``padding="max_length"``,
   truncation, no attention mask), the pictures resized, ``/255``, mean 0.5, std 0.5;
3. trains image and text towers with the family's loss
   (:func:`siglip_retriever.losses.sigmoid_loss`) on the model's own ``logit_scale`` and
   ``logit_bias``, with the optimiser and schedule fine-tuning uses
   (:mod:`siglip_retriever.training`: AdamW, warm-up then cosine decay, gradients clipped at 1);
   a batch holds many pictures of each class, so every pair whose caption describes the picture
   counts as a match;
4. saves the checkpoint and a ``training_report.json``, loads the result through
   :class:`~siglip_retriever.encoding.encoder.SiglipEncoder` and prints held-out metrics per language
   (:mod:`siglip_retriever.demo.evaluation`; ``EvalReport``, ``evaluate`` and ``EVAL_SEED`` are
   importable from here as well).

The shipped recipe: 2,100 steps of 192 pairs, 40 px pictures in 10 px patches (16 image tokens)
and 12-token captions (the longest caption is 10 tokens), with the temperature and bias learning
at 3e-2 (ten times the towers' rate: the sigmoid loss's long start at ``b = -10`` is mostly the
bias and temperature moving). Some seeds start slower (``--seed 1`` needs about ``--steps
2400``). On a machine that other processes keep busy, pass ``--threads 1``: torch threads that
fight other work for the cores slow every step. ``training_report.json`` next to each checkpoint
records the settings, the machine, the time and the held-out metrics; docs/demo-model.md tells
the recipes tried.

``--family clip`` trains the ``demo-clip`` twin instead: a ``CLIPModel`` of the same size on the
same tokenizer and pictures, with CLIP's softmax loss (:func:`siglip_retriever.losses.softmax_loss`),
in 1,500 steps with its temperature learning at 3e-3. Re-train both bundled checkpoints::

    python -m siglip_retriever.demo.train --out src/siglip_retriever/demo/model
    python -m siglip_retriever.demo.train --family clip --steps 1500 --logit-learning-rate 3e-3 \\
        --out src/siglip_retriever/demo/model_clip

Example:
    >>> import json
    >>> from siglip_retriever.demo.train import DEFAULT_OUT, TrainConfig
    >>> report = json.loads((DEFAULT_OUT / "training_report.json").read_text(encoding="utf-8"))
    >>> report["config"]["steps"] == TrainConfig().steps
    True
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siglip_retriever.demo.captions import (
    CLASSES,
    LANGUAGES,
    canonical_text,
    caption_corpus,
    labelled_captions,
)
from siglip_retriever.demo.evaluation import EVAL_SEED, EvalReport, evaluate
from siglip_retriever.demo.pictures import render
from siglip_retriever.encoding.families import family_named, family_of_model_type
from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    import torch

__all__ = ["EVAL_SEED", "EvalReport", "TrainConfig", "evaluate", "main", "train"]

DEFAULT_OUT = Path(__file__).resolve().parent / "model"
"""Where the bundled checkpoint lives (the ``"demo"`` preset)."""


@dataclass
class TrainConfig:
    """Every knob of a training run. The defaults made the shipped checkpoint.

    Attributes:
        seed: seeds the tokenizer corpus order, the weights, the pictures and the batches.
        image_size: the model's input side in pixels; pictures are resized to it.
        patch_size: the vision transformer's patch side.
        hidden_size: the width of both towers (SigLIP's embedding size).
        intermediate_size: the MLP width of both towers.
        num_layers: transformer layers per tower.
        num_heads: attention heads per layer.
        text_length: tokens per caption (padded and truncated to it).
        vocab_size: an upper bound on the SentencePiece vocabulary.
        steps: optimisation steps.
        batch_size: picture-caption pairs per step.
        learning_rate: AdamW peak learning rate of the towers.
        logit_learning_rate: peak learning rate of ``logit_scale`` and ``logit_bias``.
        weight_decay: AdamW weight decay of the matrices.
        adam_beta2: AdamW's second-moment decay (0.95 as in the SigLIP paper, for stability).
        warmup_steps: linear warm-up before the cosine decay.
        pool_per_class: training pictures drawn per class (rendered once, then sampled).
        render_sizes: sizes the training pictures are drawn at before resizing.
        eval_per_class: held-out pictures per class for the final report.
        threads: torch CPU threads.
        device: ``"cpu"`` (the shipped model) or ``"cuda"`` for quick experiments.
        log_every: steps between progress lines.
        family: ``"siglip"`` (a ``SiglipModel`` trained with the sigmoid loss, the ``demo``
            preset) or ``"clip"`` (a ``CLIPModel`` of the same size, same tokenizer and same
            pictures, trained with CLIP's softmax loss: the ``demo-clip`` preset, so that a
            comparison of the two differs in the loss and the text pooling only).

    Example:
        >>> config = TrainConfig(family="clip", steps=1500, logit_learning_rate=3e-3)
        >>> config.batch_size, config.image_size // config.patch_size
        (192, 4)
    """

    seed: int = 0
    image_size: int = 40
    patch_size: int = 10
    hidden_size: int = 96
    intermediate_size: int = 384
    num_layers: int = 3
    num_heads: int = 4
    text_length: int = 12
    vocab_size: int = 512
    steps: int = 2100
    batch_size: int = 192
    learning_rate: float = 1.5e-3
    logit_learning_rate: float = 3e-2
    weight_decay: float = 1e-4
    adam_beta2: float = 0.95
    warmup_steps: int = 150
    pool_per_class: int = 600
    render_sizes: tuple[int, ...] = (48, 64, 96)
    eval_per_class: int = 4
    threads: int = 2
    device: str = "cpu"
    log_every: int = 100
    family: str = "siglip"


# -- training -------------------------------------------------------------------------------------


CLIP_INIT_LOGIT_SCALE = math.log(1 / 0.07)
"""CLIP's initial log-temperature (``t = 1 / 0.07``); training bounds it at the family's
:attr:`~siglip_retriever.encoding.families.Family.max_logit_scale`."""


def _build_model(config: TrainConfig, vocab_size: int) -> Any:
    import torch
    from transformers import CLIPConfig, CLIPModel, SiglipConfig, SiglipModel

    from siglip_retriever.losses import INIT_LOGIT_BIAS, INIT_LOGIT_SCALE

    common = {
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
    }
    text_config = {
        **common,
        "vocab_size": vocab_size,
        "max_position_embeddings": config.text_length,
        "pad_token_id": 1,
        "bos_token_id": None,
        "eos_token_id": 1,
    }
    vision_config = {**common, "image_size": config.image_size, "patch_size": config.patch_size}
    torch.manual_seed(config.seed)
    if config.family == "clip":
        # CLIP pools the text at the first end-of-text token: SentencePiece's </s> (id 1)
        clip = CLIPModel(
            CLIPConfig(
                text_config={**text_config, "bos_token_id": 0},
                vision_config=vision_config,
                projection_dim=config.hidden_size,
            )
        )
        with torch.no_grad():
            clip.logit_scale.fill_(CLIP_INIT_LOGIT_SCALE)
        return clip
    model = SiglipModel(SiglipConfig(text_config=text_config, vision_config=vision_config))
    with torch.no_grad():
        model.logit_scale.fill_(INIT_LOGIT_SCALE)
        model.logit_bias.fill_(INIT_LOGIT_BIAS)
    return model


def _save(model: Any, tokenizer_file: Path, out: Path) -> None:
    """Save a complete checkpoint: weights, the SentencePiece tokenizer, the image processor.

    The tokenizer returns an attention mask where the family's text tower takes one
    (:attr:`~siglip_retriever.encoding.families.Family.attention_mask`): SigLIP was trained with
    its pad tokens attended to and gets input ids only, so whoever calls the model with what the
    tokenizer returns feeds it what it was trained on; the CLIP twin uses the same tokenizer with
    an attention mask, as CLIP's own does.
    """
    from transformers import SiglipImageProcessor, SiglipProcessor, SiglipTokenizer

    family = family_of_model_type(model.config.model_type)
    masked = family is not None and family.attention_mask
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer = SiglipTokenizer(
        vocab_file=str(tokenizer_file),
        model_max_length=int(model.config.text_config.max_position_embeddings),
        model_input_names=["input_ids", "attention_mask"] if masked else ["input_ids"],
    )
    side = int(model.config.vision_config.image_size)
    image_processor = SiglipImageProcessor(size={"height": side, "width": side})
    SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)


def _tokenizer_corpus() -> list[str]:
    """Every caption as the tokenizer sees it, then every distinct word on a line of its own.

    On a corpus this small, SentencePiece's unigram trainer otherwise keeps few pieces and spells
    Arabic and Cyrillic captions letter by letter (19 tokens for some, more than the model's 16);
    the word lines make its pieces whole words.
    """
    captions = [canonical_text(text) for text in caption_corpus()]
    words = sorted({word for text in captions for word in text.split()})
    return captions + words


def _preprocessors(checkpoint: Path) -> tuple[Any, Any]:
    """The tokenizer and image processor exactly as the encoder loads them."""
    import importlib.util

    from transformers import AutoImageProcessor, AutoTokenizer

    backend = "torchvision" if importlib.util.find_spec("torchvision") else "pil"
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    image_processor = AutoImageProcessor.from_pretrained(checkpoint, backend=backend)
    return tokenizer, image_processor


def _picture_pool(config: TrainConfig, image_processor: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``pool_per_class`` pictures of every class, preprocessed as the encoder does."""
    import torch

    from siglip_retriever.encoding.images import load_image

    rng = np.random.default_rng([config.seed, 1])
    labels = [label for label in range(len(CLASSES)) for _ in range(config.pool_per_class)]
    chunks = []
    for start in range(0, len(labels), 512):
        pictures = []
        for label in labels[start : start + 512]:
            size = config.render_sizes[int(rng.integers(len(config.render_sizes)))]
            shape, colour = CLASSES[label]
            pictures.append(load_image(render(shape, colour, rng, size=size), target_size=config.image_size))
        chunks.append(image_processor(images=pictures, return_tensors="pt")["pixel_values"])
    return torch.cat(chunks), torch.tensor(labels)


def _caption_bank(tokenizer: Any, config: TrainConfig) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Every caption of every class, tokenised, and its class label."""
    import torch

    texts, labels = labelled_captions(LANGUAGES)
    too_long = sum(len(ids) > config.text_length for ids in tokenizer(texts)["input_ids"])
    if too_long:
        raise ConfigurationError(
            f"{too_long} captions do not fit in {config.text_length} tokens; raise --text-length"
        )
    inputs = family_named(config.family).tokenize(tokenizer, texts, config.text_length)
    return inputs, torch.tensor(labels)


def train(out_dir: str | os.PathLike[str] = DEFAULT_OUT, config: TrainConfig | None = None) -> dict[str, Any]:
    """Train the demo model, save it to ``out_dir`` and return the training report.

    In four steps: prepare the tokenizer, the model and the data (:func:`_prepare`), train
    (:func:`_optimise`), put the checkpoint in ``out_dir`` (:func:`_publish`), and measure it
    and write ``training_report.json`` (:func:`_report`).

    Raises:
        ConfigurationError: a setting that cannot work (captions longer than the text length).
    """
    import torch

    config = config or TrainConfig()
    if config.family not in ("siglip", "clip"):
        raise ConfigurationError(f"unknown family {config.family!r}; choose 'siglip' or 'clip'")
    out = Path(out_dir)
    started = time.perf_counter()
    threads = torch.get_num_threads()  # the process's setting, given back when training ends
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prepared = _prepare(config, Path(tmp), started)
            losses = _optimise(prepared, config, generator, started)
            prepared.model.eval().to("cpu")
            seconds = time.perf_counter() - started
            _publish(prepared.model, prepared.spm_file, Path(tmp) / "final", out)
        return _report(out, config, seconds, losses)
    finally:
        torch.set_num_threads(threads)


@dataclass
class _Prepared:
    """What training starts from: the tokenizer file, the model and the tokenised, preprocessed data."""

    spm_file: Path
    model: Any
    texts: dict[str, torch.Tensor]
    text_labels: torch.Tensor
    pixels: torch.Tensor
    pixel_labels: torch.Tensor


def _prepare(config: TrainConfig, tmp: Path, started: float) -> _Prepared:
    """Train the tokenizer, build the model and make the caption bank and the picture pool.

    The data goes through the tokenizer and image processor loaded back from a checkpoint of
    the initial model, exactly as the encoder will load them.
    """
    from siglip_retriever.tiny import train_sentencepiece

    spm_file = train_sentencepiece(
        _tokenizer_corpus(), tmp / "spm", vocab_size=config.vocab_size, seed=config.seed
    )
    import sentencepiece as spm

    vocab_size = spm.SentencePieceProcessor(model_file=str(spm_file)).get_piece_size()
    model = _build_model(config, vocab_size)
    initial = tmp / "initial"
    _save(model, spm_file, initial)
    tokenizer, image_processor = _preprocessors(initial)

    texts, text_labels = _caption_bank(tokenizer, config)
    pixels, pixel_labels = _picture_pool(config, image_processor)
    model = model.to(config.device)
    pixels = pixels.to(config.device)
    texts = {k: v.to(config.device) for k, v in texts.items()}
    prepared = time.perf_counter() - started
    print(
        f"data: {len(pixels)} pictures, {len(text_labels)} captions, vocabulary {vocab_size}; "
        f"model {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters; "
        f"prepared in {prepared:.0f} s",
        flush=True,
    )
    return _Prepared(spm_file, model, texts, text_labels, pixels, pixel_labels)


def _optimise(
    data: _Prepared, config: TrainConfig, generator: torch.Generator, started: float
) -> list[float]:
    """The training loop: every step, random pictures, each with a random caption of its class.

    Returns:
        The loss of every step.
    """
    import torch

    from siglip_retriever.encoding.encoder import pooled_features
    from siglip_retriever.losses import positives_from_labels
    from siglip_retriever.training import adamw, family_loss, optimisation_step, set_learning_rates

    family = family_named(config.family)
    model = data.model
    optimizer = adamw(
        model,
        learning_rate=config.learning_rate,
        logit_learning_rate=config.logit_learning_rate,
        weight_decay=config.weight_decay,
        betas=(0.9, config.adam_beta2),
        eps=1e-8,
    )
    # every class has as many captions (languages x templates): a (classes, captions) table
    captions_per_class = torch.stack(
        [torch.nonzero(data.text_labels == label).flatten() for label in range(len(CLASSES))]
    )

    model.train()
    losses: list[float] = []
    for step in range(config.steps):
        set_learning_rates(optimizer, step=step, total=config.steps, warmup_steps=config.warmup_steps)
        picks = torch.randint(len(data.pixels), (config.batch_size,), generator=generator)
        labels = data.pixel_labels[picks]
        # for every picture, one of its class's captions (any language, any template)
        choice = torch.randint(captions_per_class.shape[1], (len(labels),), generator=generator)
        caption_picks = captions_per_class[labels, choice]
        picks, labels = picks.to(config.device), labels.to(config.device)
        batch_texts = {k: v[caption_picks] for k, v in data.texts.items()}
        loss = family_loss(
            model,
            family,
            pooled_features(model.get_image_features(pixel_values=data.pixels[picks])),
            pooled_features(model.get_text_features(**batch_texts)),
            positives=positives_from_labels(labels, data.text_labels[caption_picks].to(config.device)),
        )
        optimisation_step(model, optimizer, loss, family)
        losses.append(float(loss.detach()))
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            print(
                f"step {step + 1}/{config.steps}  loss {np.mean(losses[-config.log_every :]):.4f}  "
                f"t {model.logit_scale.exp().item():.2f}  "
                f"b {model.logit_bias.item() if family.has_bias else 0.0:.2f}  "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
    return losses


def _publish(model: Any, spm_file: Path, staging: Path, out: Path) -> None:
    """Save the trained checkpoint in ``staging``, then put it in ``out`` (replacing a checkpoint there).

    Raises:
        ConfigurationError: ``out`` holds files and no checkpoint.
    """
    _save(model, spm_file, staging)
    if out.exists():
        if any(out.iterdir()) and not (out / "config.json").is_file():
            raise ConfigurationError(f"{out} is not empty and holds no checkpoint; pick another --out")
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(staging, out)


def _report(out: Path, config: TrainConfig, seconds: float, losses: list[float]) -> dict[str, Any]:
    """Load the checkpoint in ``out`` as a user would, measure it, and write and print the report."""
    import torch

    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.loading import forget_models, loaded_models

    written = str(Path(out).resolve())  # a model cached from an earlier checkpoint at ``out`` is stale
    forget_models({key for key in loaded_models() if key[0] == written})
    encoder = SiglipEncoder(out, device="cpu")
    metrics = evaluate(encoder, per_class=config.eval_per_class)
    report = {
        "config": asdict(config),
        "training_seconds": round(seconds, 1),
        "final_loss": round(float(np.mean(losses[-config.log_every :])), 4),
        "logit_scale": round(encoder.logit_scale, 3),
        "logit_bias": round(encoder.logit_bias, 3),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": _machine(),
        "held_out": asdict(metrics),
    }
    (out / "training_report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(
        f"trained in {seconds:.0f} s; final loss {report['final_loss']}; "
        f"t {encoder.logit_scale:.2f}, b {encoder.logit_bias:.2f}"
    )
    print(f"held-out ({metrics.gallery_size} pictures, seed {EVAL_SEED}):")
    print(metrics.table())
    return report


def _machine() -> str:
    """The processor and core count, for the training report."""
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            name = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), name
            )
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name}, {usable} usable cores"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m siglip_retriever.demo.train --out DIR``."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="checkpoint directory (replaced)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--hidden-size", type=int, default=defaults.hidden_size)
    parser.add_argument("--layers", type=int, default=defaults.num_layers)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--text-length", type=int, default=defaults.text_length)
    parser.add_argument("--adam-beta2", type=float, default=defaults.adam_beta2)
    parser.add_argument("--pool-per-class", type=int, default=defaults.pool_per_class)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--patch-size", type=int, default=defaults.patch_size)
    parser.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--logit-learning-rate", type=float, default=defaults.logit_learning_rate)
    parser.add_argument(
        "--device", default=defaults.device, help="cpu (the default) or cuda, for experiments"
    )
    parser.add_argument(
        "--family",
        choices=("siglip", "clip"),
        default=defaults.family,
        help="siglip: sigmoid loss (the demo preset); clip: CLIPModel with the softmax loss (demo-clip)",
    )
    args = parser.parse_args(argv)
    config = TrainConfig(
        seed=args.seed,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        hidden_size=args.hidden_size,
        intermediate_size=args.hidden_size * 4,
        num_layers=args.layers,
        image_size=args.image_size,
        text_length=args.text_length,
        pool_per_class=args.pool_per_class,
        adam_beta2=args.adam_beta2,
        threads=args.threads,
        patch_size=args.patch_size,
        warmup_steps=args.warmup_steps,
        logit_learning_rate=args.logit_learning_rate,
        device=args.device,
        family=args.family,
    )
    try:
        train(args.out, config)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
