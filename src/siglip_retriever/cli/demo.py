"""The ``demo`` command: the offline walkthrough on the bundled demo model.

Example (``siglip-retriever demo --json`` runs it all, in about a minute on a CPU)::

    >>> from siglip_retriever.cli.demo import demo_command
    >>> from siglip_retriever.cli.options import AfterCommandOption
    >>> [param.opts[0] for param in demo_command.params if not isinstance(param, AfterCommandOption)]
    ['--out', '--per-class', '--json']
    >>> [param.opts[-1] for param in demo_command.params if isinstance(param, AfterCommandOption)
    ...  and not param.hidden]  # the global options it uses, also after it
    ['--device', '--verbose']
"""

from __future__ import annotations

from pathlib import Path

import click

from siglip_retriever.cli.options import SettingsCommand, json_option, option, with_global_options
from siglip_retriever.cli.output import print_json
from siglip_retriever.cli.settings import Settings, quiet_model_loading

__all__ = ["demo_command"]


@click.command("demo", cls=SettingsCommand)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the pictures and the store (default: a new temporary folder).",
)
@option(
    "--per-class",
    type=click.IntRange(min=1),
    default=2,
    help="Pictures per shape and colour (24 classes).",
)
@json_option("Print the results as JSON.")
@with_global_options(only=["device", "verbose"])  # its model and store are its own
def demo_command(settings: Settings, out: Path | None, per_class: int, as_json: bool) -> None:
    """Offline walkthrough on the bundled demo model: index, search in 7 languages, classify."""
    import tempfile

    from siglip_retriever.demo.walkthrough import run_demo

    quiet_model_loading(settings.verbose)
    folder = out or Path(tempfile.mkdtemp(prefix="siglip-demo-"))
    echo = (lambda line: None) if as_json else click.echo
    result = run_demo(folder, per_class=per_class, echo=echo, device=settings.device)
    if as_json:
        print_json(result)
