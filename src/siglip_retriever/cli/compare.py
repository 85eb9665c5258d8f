"""The ``compare`` command: several models on one dataset, the report printed and written to files.

Options are checked before any model loads; a bad one is a one-line error and exit status 2.

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.compare import compare_command
    >>> result = CliRunner().invoke(compare_command, ["--models", "demo", "--k", "one"])
    >>> result.exit_code, result.stderr
    (2, "error: --k takes comma-separated whole numbers, such as 1,5,10, not 'one'\\n")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from siglip_retriever.cli.options import (
    EXISTING_FILE,
    SettingsCommand,
    option,
    stacked,
    templates_option,
    with_global_options,
)
from siglip_retriever.cli.output import show
from siglip_retriever.cli.settings import Settings
from siglip_retriever.errors import ConfigurationError

__all__ = ["compare_command"]


_dataset_options = stacked(
    click.option(
        "--pairs",
        type=EXISTING_FILE,
        help="Image-caption pairs, CSV or JSONL (image, caption, language): Recall@k both ways.",
    ),
    click.option(
        "--classes",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="A folder of class sub-folders (labels.json for translated names): zero-shot accuracy.",
    ),
    click.option(
        "--labels",
        type=EXISTING_FILE,
        help="labels.json for --classes (default: the one inside the folder, if any).",
    ),
)
"""What to measure on: ``--pairs`` (Recall@k), ``--classes`` and ``--labels`` (zero-shot accuracy)."""

_report_options = stacked(
    option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("comparison"),
        help="Folder for the report files.",
    ),
    option(
        "--format",
        "formats",
        default="table,md,json,csv,png",
        help="Comma-separated: table (printed), md, json, csv, png (needs the compare extra).",
    ),
)
"""Where the report goes: ``--out`` and ``--format``."""


@click.command("compare", cls=SettingsCommand)
@click.option(
    "--models",
    required=True,
    help="Comma-separated presets, hub ids, checkpoint directories or open_clip:NAME; "
    "LABEL=MODEL sets the name shown in the report.",
)
@_dataset_options
@_report_options
@templates_option("Zero-shot prompt with {} for the label; repeatable. Default: the label as written.")
@option("--k", "ks", default="1,5,10", help="Comma-separated k of Recall@k.")
@click.option(
    "--in-process",
    is_flag=True,
    help="Run every model in this process: starts faster, but peak memory is sampled, not exact.",
)
@with_global_options(only=["device", "dtype", "batch_size", "verbose"])  # the models: --models
def compare_command(
    settings: Settings,
    models: str,
    pairs: Path | None,
    classes: Path | None,
    labels: Path | None,
    out: Path,
    formats: str,
    templates: tuple[str, ...],
    ks: str,
    in_process: bool,
) -> None:
    """Compare models on one dataset: quality, speed, peak memory and load time.

    \b
    Recall@k (text->image, image->text) per language on --pairs, zero-shot
    accuracy per label language on --classes; with neither, both on the demo's
    synthetic shapes, offline:
      siglip-retriever compare --models demo,clip-dir=/path/to/clip
      siglip-retriever compare --models multilingual,clip --pairs pairs.csv
    """
    from siglip_retriever.compare import DEFAULT_TEMPLATES, compare_models, load_classes
    from siglip_retriever.compare.report import check_formats

    wanted = check_formats(formats)
    k_values = _recall_ks(ks)
    if labels is not None and classes is None:
        raise ConfigurationError("--labels names the labels of --classes; give --classes too")
    class_data: Any = None if classes is None else load_classes(classes, labels=labels)
    if pairs is None and classes is None:
        from siglip_retriever.compare.sample import write_demo_dataset

        pairs, folder = write_demo_dataset(out / "data")
        class_data = load_classes(folder)
        click.echo(
            f"No --pairs or --classes: the demo's synthetic shapes, written to {show(str(out / 'data'))}",
            err=True,
        )
    result = compare_models(
        models,
        pairs=pairs,
        classes=class_data,
        templates=templates or DEFAULT_TEMPLATES,
        ks=k_values,
        device=settings.device,
        dtype=settings.dtype,
        batch_size=settings.batch_size,
        isolate=not in_process,
        quiet=not settings.verbose,
        progress=lambda line: click.echo(line, err=True),
    )
    if "table" in wanted:
        click.echo(result.table(), nl=False)
    files = [name for name in wanted if name != "table"]
    if files:
        written = result.write(out, files)
        click.echo("wrote " + ", ".join(show(str(path)) for path in written.values()))


def _recall_ks(ks: str) -> list[int]:
    """The k values of ``--k`` (``"1,5,10"``)."""
    try:
        return [int(k) for k in ks.split(",") if k.strip()]
    except ValueError:
        raise ConfigurationError(
            f"--k takes comma-separated whole numbers, such as 1,5,10, not {ks!r}"
        ) from None
