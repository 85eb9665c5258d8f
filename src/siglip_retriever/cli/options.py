"""Click options and argument types written once: the global options, and those several commands share.

Example:
    >>> import click
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.options import json_option, k_option
    >>> @click.command()
    ... @k_option
    ... @json_option("Print JSON.")
    ... def hits(k: int, as_json: bool) -> None:
    ...     click.echo(f"k={k} json={as_json}")
    >>> CliRunner().invoke(hits, ["-k", "3", "--json"]).output
    'k=3 json=True\\n'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from siglip_retriever.cli.output import user_errors
from siglip_retriever.errors import ConfigurationError

__all__ = [
    "ENV",
    "EXISTING_FILE",
    "PathOrUri",
    "global_options",
    "json_option",
    "k_option",
    "min_probability_option",
    "min_similarity_option",
    "option",
    "parse_where",
    "stacked",
    "templates_option",
    "where_option",
    "with_settings",
]

F = TypeVar("F", bound=Callable[..., Any])
ENV = "SIGLIP_RETRIEVER_"
"""The prefix of the environment variables that options read (``SIGLIP_RETRIEVER_DB``, ...)."""
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
"""An existing file (not a folder), as a :class:`~pathlib.Path`."""


def option(*names: str, default: Any, help: str, **settings: Any) -> Callable[[F], F]:
    """A click option whose default is shown in ``--help``."""
    return click.option(*names, default=default, show_default=True, help=help, **settings)


def stacked(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying ``decorators`` as if they were written one above the other."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def with_settings(func: F) -> F:
    """Pass the global :class:`~siglip_retriever.cli.settings.Settings` first; errors as one line."""
    return click.pass_obj(user_errors(func))  # type: ignore[return-value]


def json_option(help: str) -> Callable[[F], F]:
    """``--json`` (parameter ``as_json``): print JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help=help)


min_probability_option = click.option(
    "--min-probability",
    "--min-prob",
    "min_probability",
    type=click.FloatRange(0, 1),
    help="Only hits with at least this probability (image-text pairs).",
)
"""``--min-probability`` (alias ``--min-prob``): the search layer's ``min_probability``."""


def min_similarity_option(help: str) -> Callable[[F], F]:
    """``--min-similarity`` (alias ``--min-sim``): the search layer's ``min_similarity``."""
    return click.option(
        "--min-similarity", "--min-sim", "min_similarity", type=click.FloatRange(-1, 1), help=help
    )


def where_option(help: str) -> Callable[[F], F]:
    """``--where``: a metadata filter as JSON (see :func:`parse_where`)."""
    return click.option("--where", help=help)


def templates_option(help: str) -> Callable[[F], F]:
    """``-t/--template`` (parameter ``templates``), repeatable: prompts with ``{}`` for the label."""
    return click.option("-t", "--template", "templates", multiple=True, help=help)


k_option = option("-k", "--k", "k", type=click.IntRange(min=1), default=5, help="Number of hits.")
"""``-k/--k``: the number of hits."""


def parse_where(text: str | None) -> dict[str, Any] | None:
    """The ``--where`` filter as a dict (``None`` when not given).

    Raises:
        ConfigurationError: ``text`` is not a JSON object.
    """
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f'--where must be JSON, such as \'{{"album": "2019"}}\' ({exc})') from None
    if not isinstance(value, dict):
        raise ConfigurationError("--where must be a JSON object")
    return value


class PathOrUri(click.Path):
    """An existing local path, or a URI (``s3://bucket/photos``) passed on as it is.

    Example:
        >>> PathOrUri(exists=True).convert("s3://bucket/photos", None, None)
        's3://bucket/photos'
    """

    name = "path_or_uri"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """``value`` as it is when it is a URI, else checked and converted as a :class:`click.Path`."""
        from siglip_retriever.store.scanning import is_uri

        if isinstance(value, str) and is_uri(value):
            return value
        return super().convert(value, param, ctx)


global_options = stacked(
    click.option(
        "-m",
        "--model",
        envvar=ENV + "MODEL",
        help="Preset, hub id or checkpoint directory. Default: the store's own model, else 'multilingual'.",
    ),
    option("--db", envvar=ENV + "DB", default="siglip-store", help="Directory of the embedded store."),
    click.option("--host", envvar=ENV + "HOST", help="Chroma server host (instead of --db)."),
    option("--port", envvar=ENV + "PORT", type=int, default=8000, help="Chroma server port."),
    option(
        "--collection", envvar=ENV + "COLLECTION", default="siglip", help="Collection name inside the store."
    ),
    option("--device", envvar=ENV + "DEVICE", default="auto", help="auto, cpu, cuda[:N] or mps."),
    option(
        "--dtype",
        envvar=ENV + "DTYPE",
        default="auto",
        help="auto, float32, float16, bfloat16 or int8 "
        "(CPU only: dynamic int8 quantisation, about 1.4x faster).",
    ),
    option(
        "--batch-size",
        envvar=ENV + "BATCH_SIZE",
        type=click.IntRange(min=1),
        default=32,
        help="Images or texts per forward pass.",
    ),
    click.option("-v", "--verbose", is_flag=True, help="Show full tracebacks and library logs."),
)
"""The global options, given before the command; each can come from ``SIGLIP_RETRIEVER_<NAME>``."""
