"""The ``duplicates`` command: list the groups of files that hold the same picture, and which to keep.

It reads the store only (no model runs, nothing is deleted or moved): see
:func:`siglip_retriever.store.duplicates.find_duplicates` for what makes a group and the JSON schema.

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.duplicates import duplicates_command
    >>> print(CliRunner().invoke(duplicates_command, ["--help"]).output.splitlines()[0])
    Usage: duplicates [OPTIONS]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from siglip_retriever.cli.options import SettingsCommand, json_option, option, with_settings
from siglip_retriever.cli.output import print_json, show
from siglip_retriever.cli.settings import Settings
from siglip_retriever.store.fingerprints import SAME_PICTURE_BITS
from siglip_retriever.store.hash_index import MAX_BITS

if TYPE_CHECKING:
    from siglip_retriever.store.duplicates import DuplicateFile, DuplicateGroups

__all__ = ["duplicates_command", "human_size", "print_groups"]


@click.command("duplicates", cls=SettingsCommand)
@option(
    "--max-bits",
    type=click.IntRange(0, MAX_BITS),
    default=SAME_PICTURE_BITS,
    help="Pictures whose fingerprints differ in at most this many of 64 bits are the same picture. "
    "Resized, recompressed, re-encoded and EXIF-rotated copies differ by a few bits, lightly "
    "cropped ones by more, distinct photos by many more: lower it if similar scenes are grouped.",
)
@click.option(
    "--similar",
    type=click.FloatRange(-1, 1),
    metavar="THRESHOLD",
    help="Also group pictures whose embeddings have at least this cosine similarity (burst shots, "
    "near-identical scenes; depends on the model: try 0.95 and look). Slower: reads every "
    "picture's nearest neighbours.",
)
@json_option("Print JSON (schema: docs/guides/cli.md, JSON output).")
@with_settings
def duplicates_command(settings: Settings, max_bits: int, similar: float | None, as_json: bool) -> None:
    """List groups of files that hold the same picture, the one to keep first.

    Byte-identical files, and copies that were resized, recompressed, re-encoded, rotated or
    lightly cropped, are found by the fingerprints indexing records (any model). Each group
    suggests keeping the largest picture (a camera RAW by its sensor, and before its JPEG), then the
    oldest (EXIF date, else file time).
    Nothing is deleted or moved.
    """
    store = settings.store(must_exist=True)
    groups = store.find_duplicates(max_bits=max_bits, similar=similar)
    if groups.message:
        click.echo(f"warning: {groups.message}", err=True)
    if as_json:
        print_json(groups.to_dict())
    else:
        print_groups(groups)


def human_size(size: int | None) -> str:
    """A byte count for people: ``'-'`` when unknown.

    Example:
        >>> from siglip_retriever.cli.duplicates import human_size
        >>> human_size(512), human_size(2_500_000), human_size(None)
        ('512 B', '2.5 MB', '-')
    """
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns


def print_groups(groups: DuplicateGroups) -> None:
    """Print each group as a table (the kept file first, marked ``keep``), then a summary."""
    for number, group in enumerate(groups, 1):
        why = ", ".join(
            {"identical": "same bytes", "picture": "same picture", "similar": "similar"}[r]
            for r in group.reasons
        )
        click.echo(
            f"group {number}: {len(group.files)} files ({why}); "
            f"{human_size(group.reclaimable_bytes)} in the others"
        )
        for item in group.files:
            click.echo(_file_line(item))
    files = sum(len(group.files) - 1 for group in groups)
    reclaimable = sum(group.reclaimable_bytes for group in groups)
    if groups:
        click.echo("")
    click.echo(
        f"{_plural(len(groups), 'group')} among {groups.checked} pictures (max {groups.max_bits} bits"
        + (f", cosine >= {groups.similar}" if groups.similar is not None else "")
        + f"): {_plural(files, 'file')} beside the kept ones, {human_size(reclaimable)}. Nothing was deleted."
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _file_line(item: DuplicateFile) -> str:
    """One file of a group: keep mark, pixel size, bytes, date and its source, bits, path."""
    pixels = f"{item.width}x{item.height}" if item.width and item.height else "-"
    date = f"{item.date[:16].replace('T', ' ')} ({item.date_source})" if item.date else "-"
    bits = f"{item.bits} bits" if item.bits is not None else "-"
    similarity = f"  cos {item.similarity:.3f}" if item.similarity is not None else ""
    mark = "keep" if item.keep else ""
    size = human_size(item.size)
    return f"  {mark:4}  {pixels:>11}  {size:>8}  {date:27}  {bits:>7}{similarity}  {show(item.path)}"
