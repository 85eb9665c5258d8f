"""The ``index`` command: parse the indexing options, index with the chosen engine, print the reports.

Which engine indexes what (folders, single files, URIs; one Ray cluster for every path) is decided
in the store layer, by :func:`siglip_retriever.store.engines.index_paths`.

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.index import index_command
    >>> result = CliRunner().invoke(index_command, ["s3://bucket/photos"])  # local indexing reads paths
    >>> result.exit_code, "URIs need --engine ray" in result.output
    (2, True)
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from siglip_retriever.cli.options import (
    ENV,
    PathOrUri,
    SettingsCommand,
    json_option,
    option,
    stacked,
    with_settings,
)
from siglip_retriever.cli.output import print_json, show
from siglip_retriever.cli.settings import Settings
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.engines import ENGINES
from siglip_retriever.store.feeding import DECODE_CHOICES
from siglip_retriever.store.reading import OCR_SETTINGS

if TYPE_CHECKING:
    from siglip_retriever.store.report import IndexReport

__all__ = ["index_command"]

_SHOWN_FAILURES = 20  # failures printed a path; --report has them all

_ray_options = stacked(
    click.option(
        "--ray-address",
        envvar=ENV + "RAY_ADDRESS",
        help="--engine ray: the cluster (auto, HOST:PORT, ray://HOST:10001). Default: start a local one.",
    ),
    option(
        "--num-workers",
        type=click.IntRange(min=1),
        default=1,
        help="--engine ray: model actors (one model each; one GPU each when the cluster has GPUs).",
    ),
    option(
        "--cpus-per-worker",
        type=click.FloatRange(min=0, min_open=True),
        default=1.0,
        help="--engine ray: CPUs each model actor reserves.",
    ),
    click.option("--num-cpus", type=click.IntRange(min=1), help="--engine ray: CPUs of a local cluster."),
)


@click.command("index", cls=SettingsCommand)
@click.argument("paths", nargs=-1, required=True, type=PathOrUri(exists=True, path_type=Path))
@click.option("--no-recursive", is_flag=True, help="Do not descend into sub-folders.")
@click.option(
    "--ext", "extensions", help="Comma-separated extensions to index (default: common image types)."
)
@click.option("--remove-missing", is_flag=True, help="Delete entries of files that no longer exist.")
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every outcome, each failure with its reason, to this JSON file.",
)
@json_option("Print the report as JSON.")
@option(
    "--engine",
    type=click.Choice(ENGINES),
    default="local",
    help="local: in this process. ray: on a Ray cluster (pip install 'siglip-retriever[ray]'); "
    "see docs/guides/scale.md.",
)
@click.option(
    "--ocr",
    type=click.Choice(OCR_SETTINGS),
    default=None,
    help="Read the words in pictures (pip install 'siglip-retriever[ocr]'): auto (pictures likely "
    "to carry text, and scanned PDF pages), all, or off. Default: the store's last setting, else "
    "auto when the ocr extra is installed. Unchanged files are not read again; turning it on reads "
    "the stored pictures without embedding them again.",
)
@click.option(
    "--decode",
    type=click.Choice(DECODE_CHOICES),
    default="auto",
    show_default=True,
    help="Where pictures are decoded: threads, worker processes (they scale with cores; a file "
    "that crashes its decoder fails alone), or auto: processes when the model is on an "
    "accelerator and the machine has more than two cores. -v prints the choice.",
)
@_ray_options
@with_settings
def index_command(
    settings: Settings,
    paths: tuple[Path | str, ...],
    no_recursive: bool,
    extensions: str | None,
    remove_missing: bool,
    report_file: Path | None,
    as_json: bool,
    engine: str,
    ocr: str | None,
    decode: str,
    ray_address: str | None,
    num_workers: int,
    cpus_per_worker: float,
    num_cpus: int | None,
) -> None:
    """Index image and PDF folders or files, incrementally: unchanged files are skipped.

    A PDF becomes one entry per page (with its text layer as its words) and one per figure.

    With --engine ray, PATHS may also be URIs of folders or files on any filesystem Ray Data
    reads (s3://bucket/photos, gs://..., hdfs://..., file:///...); see docs/guides/scale.md.
    """
    from siglip_retriever.store.engines import check_engine, index_paths

    try:  # before the store is opened: a URI without Ray, or Ray not installed
        check_engine(engine, paths, ray_option="--engine ray", ocr=ocr)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    store = settings.store(must_exist=False)
    reports = index_paths(
        store,
        paths,
        engine=engine,
        recursive=not no_recursive,
        extensions=extensions,
        remove_missing=remove_missing,
        show_progress=not as_json,
        ray_address=ray_address,
        num_workers=num_workers,
        cpus_per_worker=cpus_per_worker,
        num_cpus=num_cpus,
        dtype=settings.dtype,
        ocr=ocr,
        decode=decode,
        on_report=None if as_json else partial(_print_report, verbose=settings.verbose),
    )
    data = [r.to_dict() for r in reports]
    if report_file is not None:
        report_file.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    if as_json:
        print_json(data)
        return
    click.echo(f"store {store.location}: {store.count('image')} images, {store.count('text')} texts")
    if engine == "local" and any(r.embedded for r in reports):
        from siglip_retriever.encoding.cpu import int8_speedup_hint

        hint = int8_speedup_hint(store.encoder.device, store.encoder.dtype)
        if hint:
            click.echo(f"tip: {hint}")
    if engine == "local" and store.ocr_setting is None and all(r.ocr == "off" for r in reports):
        click.echo(
            "tip: pip install 'siglip-retriever[ocr]' to read the words in pictures (index --ocr auto)"
        )


def _print_report(path: str | os.PathLike[str], report: IndexReport, *, verbose: bool = False) -> None:
    """The summary of one path (with how it was decoded under ``-v``), and its first failures
    on stderr."""
    click.echo(f"{show(str(path))}: {report.summary()}")
    if verbose and report.feed is not None:
        click.echo(f"  {report.feed.line()}")
        if report.feed.gpu_jpeg_reason:
            click.echo(f"  {report.feed.gpu_jpeg_reason}")
    for failure in report.failed[:_SHOWN_FAILURES]:
        click.echo(f"  failed: {show(failure.path)}: {failure.reason}", err=True)
    if len(report.failed) > _SHOWN_FAILURES:
        click.echo(f"  ... and {len(report.failed) - _SHOWN_FAILURES} more (see --report)", err=True)
