"""The ``siglip-retriever`` command line: a thin layer over the public API.

Heavy libraries are imported inside the commands, so ``siglip-retriever --help`` stays fast.
The global options may come before or after the command (after it wins), and each can also come
from an environment variable (``SIGLIP_RETRIEVER_MODEL``, ``SIGLIP_RETRIEVER_DB``,
``SIGLIP_RETRIEVER_HOST``, ...; see ``--help``).

Modules, one job each: this one (the :func:`main` group: global options, ``--version``, the
commands), :mod:`.settings` (the global options as :class:`~.settings.Settings`, which build the
encoder and the store), :mod:`.options` (the global options, before and after
the command, and the options several commands share), :mod:`.output` (JSON, the
hits table, errors as one line), and one module a command group: :mod:`.index`, :mod:`.search`
(search, similar), :mod:`.classify`, :mod:`.info` (info, presets, embed), :mod:`.serve`,
:mod:`.compare`, :mod:`.demo`, :mod:`.finetune`, :mod:`.duplicates`.

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli import main
    >>> CliRunner().invoke(main, ["--version"]).output.startswith("siglip-retriever, version ")
    True
"""

from __future__ import annotations

from typing import Any

import click

from siglip_retriever._version import __version__
from siglip_retriever.cli.classify import classify_command
from siglip_retriever.cli.compare import compare_command
from siglip_retriever.cli.demo import demo_command
from siglip_retriever.cli.duplicates import duplicates_command
from siglip_retriever.cli.finetune import finetune_command
from siglip_retriever.cli.index import index_command
from siglip_retriever.cli.info import embed_command, info_command, presets_command
from siglip_retriever.cli.options import global_options
from siglip_retriever.cli.reindex import reindex_command
from siglip_retriever.cli.search import search_command, similar_command
from siglip_retriever.cli.serve import serve_command
from siglip_retriever.cli.settings import Settings, show_library_logs

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="siglip-retriever")
@global_options
@click.pass_context
def main(ctx: click.Context, **options: Any) -> None:
    """SigLIP image search: index pictures, search them in any language, classify them.

    \b
    Quick start, offline, on the bundled demo model:
      siglip-retriever demo
    With your own pictures:
      siglip-retriever index ~/Pictures
      siglip-retriever search "un chat sur un canapé"

    The global options below (all but --version) go before the command or after
    it: "siglip-retriever --db DIR index PHOTOS" and "siglip-retriever index
    PHOTOS --db DIR" are the same; each command's --help lists the ones it uses.
    Given both ways, the one after the command wins; given neither way, the
    environment variable applies, then the default. After serve, --host and
    --port are the web app's; the Chroma server's are --chroma-host and
    --chroma-port there.
    """
    ctx.obj = Settings(**options)
    if options["verbose"]:
        show_library_logs()


for _command in (
    index_command,
    search_command,
    similar_command,
    classify_command,
    info_command,
    demo_command,
    presets_command,
    embed_command,
    serve_command,
    compare_command,
    finetune_command,
    duplicates_command,
    reindex_command,
):
    main.add_command(_command)
