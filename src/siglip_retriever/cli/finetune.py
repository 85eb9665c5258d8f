"""The ``finetune`` command: train the global ``--model`` on your image-caption pairs and save it.

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.finetune import finetune_command
    >>> print(CliRunner().invoke(finetune_command, ["--help"]).output.splitlines()[0])
    Usage: finetune [OPTIONS]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from siglip_retriever.cli.options import (
    EXISTING_FILE,
    SettingsCommand,
    json_option,
    option,
    with_global_options,
)
from siglip_retriever.cli.output import print_json
from siglip_retriever.cli.settings import Settings

__all__ = ["finetune_command"]


@click.command("finetune", cls=SettingsCommand)
@click.option(
    "--pairs", required=True, type=EXISTING_FILE, help="CSV or JSON Lines: image, caption, language."
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the new checkpoint.")
@click.option(
    "--held-out", "held_out_file", type=EXISTING_FILE, help="Pairs to score on (default: a share of --pairs)."
)
@option(
    "--held-out-share",
    "held_out",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    help="Share of the pictures of --pairs held out, when there is no --held-out file.",
)
@option(
    "--train",
    type=click.Choice(["all", "last", "lora"]),
    default="last",
    help="What trains: every parameter, the last --layers of each tower, or LoRA adapters "
    "(merged when saved).",
)
@option("--layers", type=click.IntRange(min=1), default=2, help="With --train last: layers per tower.")
@option("--lora-rank", type=click.IntRange(min=1), default=8, help="With --train lora: the adapters' rank.")
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    help="Optimisation steps (default: --epochs, and at least --min-steps).",
)
@option(
    "--epochs", type=click.FloatRange(min=0, min_open=True), default=15.0, help="Passes over the pictures."
)
@option(
    "--min-steps",
    type=click.IntRange(min=1),
    default=400,
    help="Without --steps: the fewest steps (a few hundred pairs need more than 15 passes).",
)
@click.option(
    "--lr",
    "learning_rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Peak learning rate of the towers. Default: by the model's width, 2e-3 x (96 / width)^2 "
    "(2e-3 for demo, 3.1e-5 for a base model; ten times that for --train lora).",
)
@option(
    "--logit-lr",
    "logit_learning_rate",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-3,
    help="Peak learning rate of the temperature and bias.",
)
@option(
    "--weight-decay", type=click.FloatRange(0, 1, max_open=True), default=1e-4, help="AdamW weight decay."
)
@option("--seed", type=int, default=0, help="Seeds the split, the batches and the augmentation.")
@option("--checkpoint-every", type=click.IntRange(min=1), default=50, help="Steps between resumable states.")
@click.option("--flip", is_flag=True, help="Flip pictures at random (off: captions may say left or right).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out.")
@json_option("Print the report as JSON.")
@with_global_options(only=["model", "device", "batch_size", "verbose"])
def finetune_command(
    settings: Settings,
    pairs: Path,
    out: Path,
    held_out_file: Path | None,
    resume: bool,
    as_json: bool,
    **choices: Any,
) -> None:
    """Fine-tune --model on your pairs (the sigmoid loss for SigLIP) and save it in --out.

    \b
    The held-out pairs are scored before and after (Recall@1/5/10 per language);
    --out gets the checkpoint (use it with --model OUT), a model card and
    finetune-report.json. Ctrl+C saves the state: run again with --resume.
      siglip-retriever --model demo finetune --pairs pairs.csv --out tuned
    """
    from siglip_retriever.tuning import FinetuneConfig, finetune

    # every other option is named as the FinetuneConfig field it sets
    config = FinetuneConfig(
        **choices,
        lora_alpha=2 * choices["lora_rank"],
        batch_size=settings.batch_size,
        device=settings.device,
    )
    report = finetune(
        pairs,
        out,
        model=settings.model,
        config=config,
        held_out=held_out_file,
        resume=resume,
        progress=not as_json,
        command=["siglip-retriever", *sys.argv[1:]],
    )
    if as_json:
        print_json(report.to_dict())
    else:
        click.echo(report.summary())
    if report.fell:
        click.secho(
            "WARNING: the held-out recall FELL after fine-tuning: " + "; ".join(report.fell),
            err=True,
            fg="red",
            bold=True,
        )
