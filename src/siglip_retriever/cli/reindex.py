"""The ``reindex`` command: change a store's model without downtime, roll back, drop the old one.

``siglip-retriever reindex --model NEW`` builds the store again with ``NEW`` beside the live
collection (searches keep answering meanwhile) and swaps to it in one write when it is complete;
``--rollback`` returns to the previous collection, ``--drop-previous`` deletes it. A run that
stops half-way is resumed by the next one (see :mod:`siglip_retriever.store.reindexing`).

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.reindex import reindex_command
    >>> print(CliRunner().invoke(reindex_command, ["--help"]).output.splitlines()[0])
    Usage: reindex [OPTIONS]
"""

from __future__ import annotations

import dataclasses

import click

from siglip_retriever.cli.options import SettingsCommand, json_option, with_settings
from siglip_retriever.cli.output import print_json, show
from siglip_retriever.cli.settings import Settings
from siglip_retriever.errors import ConfigurationError

__all__ = ["reindex_command"]


@click.command("reindex", cls=SettingsCommand)
@click.option("--rollback", is_flag=True, help="Make the previous collection live again.")
@click.option("--drop-previous", is_flag=True, help="Delete the previous collection (no rollback after it).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@json_option("Print the report as JSON.")
@with_settings
def reindex_command(
    settings: Settings, rollback: bool, drop_previous: bool, progress: bool, as_json: bool
) -> None:
    """Build the store again with --model beside the live collection, then swap to it.

    Searches (a running serve included: it picks the swap up on its next request) keep
    answering from the live collection until the new one is complete. Pictures are read again
    from their files; an interrupted run is resumed by the next. An embedded store is open in
    one process at a time: stop serve first, or keep the store on a Chroma server (--host).
    """
    if rollback and drop_previous:
        raise ConfigurationError("give --rollback or --drop-previous, not both")
    store = dataclasses.replace(settings, model=None).store(must_exist=True)  # as it is now
    if rollback:
        live = store.rollback()
        _done(
            as_json, {"live": live, "model": store.model_name}, f"{live} ({store.model_name}) is live again"
        )
        return
    if drop_previous:
        dropped = store.drop_previous()
        text = f"dropped {dropped}" if dropped else "there is no previous collection"
        _done(as_json, {"dropped": dropped}, text)
        return
    if settings.model is None:
        raise ConfigurationError("give the new model: siglip-retriever reindex --model NEW")
    report = store.reindex(settings.model, show_progress=progress and not as_json)
    failed = [{"path": item.path, "reason": item.reason} for item in report.failed]
    data = {**dataclasses.asdict(report), "failed": failed, "summary": report.summary()}
    if as_json:
        print_json(data)
        return
    for item in report.failed:
        click.echo(f"failed: {show(item.path)}: {item.reason}", err=True)
    click.echo(report.summary())


def _done(as_json: bool, data: dict[str, object], text: str) -> None:
    if as_json:
        print_json(data)
    else:
        click.echo(text)
