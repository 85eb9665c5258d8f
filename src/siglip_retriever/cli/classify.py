"""The ``classify`` command: zero-shot labels for image files, as a table or JSON.

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.classify import classify_command
    >>> print(CliRunner().invoke(classify_command, ["--help"]).output.splitlines()[0])
    Usage: classify [OPTIONS] IMAGES...
"""

from __future__ import annotations

from pathlib import Path

import click

from siglip_retriever.cli.options import (
    EXISTING_FILE,
    SettingsCommand,
    json_option,
    option,
    templates_option,
    with_settings,
)
from siglip_retriever.cli.output import print_json, show
from siglip_retriever.cli.settings import Settings

__all__ = ["classify_command"]


@click.command("classify", cls=SettingsCommand)
@click.argument("images", nargs=-1, required=True, type=EXISTING_FILE)
@click.option("-l", "--labels", required=True, help="Comma-separated labels, in any language.")
@templates_option("Prompt with {} for the label; repeatable. Default: 'a photo of {}.'")
@option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.5,
    help="Labels at or above this probability are listed as matches.",
)
@json_option("Print JSON (schema: docs/guides/cli.md, JSON output).")
@with_settings
def classify_command(
    settings: Settings,
    images: tuple[Path, ...],
    labels: str,
    templates: tuple[str, ...],
    threshold: float,
    as_json: bool,
) -> None:
    """Zero-shot: the probability of each label for each IMAGE (independent, multi-label)."""
    from siglip_retriever.search.zero_shot import DEFAULT_TEMPLATES, ZeroShotClassifier

    names = [label.strip() for label in labels.split(",") if label.strip()]
    classifier = ZeroShotClassifier(
        names, templates=templates or DEFAULT_TEMPLATES, encoder=settings.encoder()
    )
    results = classifier.classify(list(images))
    if as_json:
        print_json(
            {
                "model": classifier.encoder.preset.name,
                "score_kind": classifier.score_kind,
                "templates": classifier.templates,
                "results": [r.to_dict() for r in results],
            }
        )
        return
    for result in results:
        matches = result.above(threshold)
        click.echo(
            f"{show(result.source)}: {', '.join(matches) if matches else '(no label above threshold)'}"
        )
        for label, probability in result.ranked():
            click.echo(f"  {probability:6.3f}  {label}")
    if classifier.score_kind == "softmax":
        click.echo("(softmax model: probabilities are relative to these labels and sum to 1)")
