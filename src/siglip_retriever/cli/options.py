"""Click options and argument types written once: the global options, and those several commands share.

The global options (:data:`GLOBAL_OPTIONS`) are accepted before the command (the group's,
:data:`global_options`) and after it (each command's, added by :func:`with_settings` or
:func:`with_global_options`); given both ways, the one after the command wins.

Example:
    >>> import click
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.options import json_option, search_options
    >>> @click.command()
    ... @search_options
    ... @json_option("Print JSON.")
    ... def hits(options: dict, as_json: bool) -> None:
    ...     click.echo(f"k={options.get('k')} json={as_json}")
    >>> CliRunner().invoke(hits, ["-k", "3", "--json"]).output
    'k=3 json=True\\n'
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from click.core import ParameterSource

from siglip_retriever.cli.output import user_errors
from siglip_retriever.cli.settings import Settings, show_library_logs
from siglip_retriever.search.options import CLI_DEFAULTS, OptionSpec, option_specs, parse_where

__all__ = [
    "AFTER_COMMAND_RULE",
    "ENV",
    "EXISTING_FILE",
    "GLOBAL_OPTIONS",
    "AfterCommandOption",
    "GlobalOption",
    "PathOrUri",
    "SettingsCommand",
    "global_options",
    "json_option",
    "option",
    "search_options",
    "stacked",
    "templates_option",
    "with_global_options",
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


def json_option(help: str) -> Callable[[F], F]:
    """``--json`` (parameter ``as_json``): print JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def templates_option(help: str) -> Callable[[F], F]:
    """``-t/--template`` (parameter ``templates``), repeatable: prompts with ``{}`` for the label."""
    return click.option("-t", "--template", "templates", multiple=True, help=help)


_CLICK_TYPES: dict[str, click.ParamType] = {
    "count": click.INT,
    "probability": click.FLOAT,
    "cosine": click.FLOAT,
    "choice": click.STRING,
    "filter": click.STRING,
}
_METAVARS = {"filter": "JSON"}


def _search_option(spec: OptionSpec) -> Callable[[F], F]:
    """One search option as a click option, named as the search layer names it (``--fetch-k``).
    Values are checked by the search layer, so a wrong one gets its words (``error:``, exit 2)."""
    flag = "--" + spec.name.replace("_", "-")
    default = getattr(CLI_DEFAULTS, spec.name)
    shown = f"  [default: {default}]" if default not in (None, False) else ""
    if spec.type == "flag":
        return click.option(f"{flag}/--no-{flag[2:]}", spec.name, default=None, help=spec.help + shown)
    names = [spec.short, flag] if spec.short else [flag]
    return click.option(
        *names,
        spec.name,
        type=_CLICK_TYPES[spec.type],
        metavar="[" + "|".join(spec.choices) + "]" if spec.choices else _METAVARS.get(spec.type),
        help=spec.help + shown,
    )


def search_options(func: F) -> F:
    """Every search option (:func:`~siglip_retriever.search.options.option_specs`) as a click option,
    handed to the command as one parameter ``options``: a dict of those given (``--where`` parsed
    from JSON), to pass to the :class:`~siglip_retriever.search.retriever.Retriever` made with
    :data:`~siglip_retriever.search.options.CLI_DEFAULTS`.

    Example:
        >>> import click
        >>> from click.testing import CliRunner
        >>> from siglip_retriever.cli.options import search_options
        >>> @click.command()
        ... @search_options
        ... def hits(options: dict) -> None:
        ...     click.echo(sorted(options))
        >>> CliRunner().invoke(hits, ["-k", "3", "--diverse"]).output.strip()
        "['diverse', 'k']"
    """
    names = [spec.name for spec in option_specs()]

    @wraps(func)
    @user_errors  # a bad --where is one error line too
    def command(*args: Any, **kwargs: Any) -> Any:
        given = {name: value for name in names if (value := kwargs.pop(name)) is not None}
        if "where" in given:
            given["where"] = parse_where(given["where"])
        return func(*args, options=given, **kwargs)

    for spec in reversed(option_specs()):
        command = _search_option(spec)(command)
    return cast(F, command)


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


# -- the global options: written once, given before the command, after it, or both ---------------

AFTER_COMMAND_RULE = (
    "These may also come before the command's name. Given both ways, the one after it wins; "
    "given neither way, the environment variable applies, then the default."
)
"""The precedence of the global options, as each command's ``--help`` states it."""


@dataclass(frozen=True)
class GlobalOption:
    """One global option, written once for both places it may be given: before and after the command.

    Its environment variable is ``SIGLIP_RETRIEVER_<NAME>`` (flags have none).
    """

    name: str
    """The :class:`~siglip_retriever.cli.settings.Settings` field it sets (``batch_size``)."""
    flags: tuple[str, ...]
    help: str
    default: Any = None
    type: click.ParamType | None = None
    is_flag: bool = False

    @property
    def envvar(self) -> str | None:
        """``SIGLIP_RETRIEVER_<NAME>``, or ``None`` for a flag."""
        return None if self.is_flag else ENV + self.name.upper()

    @property
    def long_flag(self) -> str:
        """Its first long spelling (``--model``, ``--host``): how messages name it."""
        return next(flag for flag in self.flags if flag.startswith("--"))

    def decorator(self, flags: Sequence[str] | None = None, *, after: bool) -> Callable[[F], F]:
        """The click option: the group's (``after=False``) or a command's, spelled ``flags`` there."""
        settings: dict[str, Any] = {"help": self.help}
        if self.is_flag:
            settings["is_flag"] = True
        else:
            settings.update(envvar=self.envvar, show_envvar=True, default=self.default)
            settings["show_default"] = self.default is not None
            if self.type is not None:
                settings["type"] = self.type
        if after:
            settings["cls"] = AfterCommandOption
        return click.option(*(flags or self.flags), self.name, **settings)

    def refusal(self, used: Sequence[GlobalOption]) -> Callable[[F], F]:
        """A hidden option of a command that does not use this one: typed after it, a usage error
        naming the global options the command does use."""

        def refuse(ctx: click.Context, param: click.Parameter, value: Any) -> None:
            if ctx.get_parameter_source(self.name) is ParameterSource.COMMANDLINE:
                takes = ", ".join(option.long_flag for option in used) or "none"
                raise click.UsageError(
                    f"{ctx.info_name} does not use {self.long_flag}; "
                    f"the global options it takes after it: {takes}",
                    ctx,
                )

        return click.option(
            *self.flags,
            self.name,
            cls=AfterCommandOption,
            hidden=True,
            expose_value=False,
            is_flag=self.is_flag,
            callback=refuse,
        )


class AfterCommandOption(click.Option):
    """A global option given after the command: only a value typed there overrides the group's.

    It reads the same environment variable as the group's option, for a command run on its own;
    under the group that value is ignored, as the group has already read it (see
    :func:`with_global_options`).
    """


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(
        "model",
        ("-m", "--model"),
        "Preset, hub id or checkpoint directory. Default: the store's own model, else 'multilingual'.",
    ),
    GlobalOption("db", ("--db",), "Directory of the embedded store.", default="siglip-store"),
    GlobalOption("host", ("--host", "--chroma-host"), "Chroma server host (instead of --db)."),
    GlobalOption(
        "port",
        ("--port", "--chroma-port"),
        "Chroma server port.",
        default=8000,
        type=click.IntRange(1, 65535),
    ),
    GlobalOption("collection", ("--collection",), "Collection name inside the store.", default="siglip"),
    GlobalOption("device", ("--device",), "auto, cpu, cuda[:N] or mps.", default="auto"),
    GlobalOption(
        "dtype",
        ("--dtype",),
        "auto, float32, float16, bfloat16 or int8 (int8: the Linear layers quantised dynamically, CPU "
        "only; how much faster depends on the CPU: BENCHMARKS.md, int8).",
        default="auto",
    ),
    GlobalOption(
        "batch_size",
        ("--batch-size",),
        "Images or texts per forward pass.",
        default=32,
        type=click.IntRange(min=1),
    ),
    GlobalOption("verbose", ("-v", "--verbose"), "Show full tracebacks and library logs.", is_flag=True),
)
"""The global options, one per :class:`~siglip_retriever.cli.settings.Settings` field, in help order."""

global_options = stacked(*(option.decorator(after=False) for option in GLOBAL_OPTIONS))
"""The group's global options, given before the command; each can come from ``SIGLIP_RETRIEVER_<NAME>``."""


def with_global_options(
    *, only: Collection[str] | None = None, spellings: Mapping[str, Sequence[str]] | None = None
) -> Callable[[F], F]:
    """The global options after the command too, and the :class:`Settings` they make passed first.

    Precedence, for each option: given after the command > given before it > its environment
    variable > its default. Package errors are printed as one line (:func:`user_errors`).

    Args:
        only: the names of the global options this command uses (default: all of them). The
            others are accepted before the command, as by every command; after it, each is a
            usage error that names the ones it uses.
        spellings: other flags for an option after this command, for a command with a flag of
            its own of the same spelling (``serve``: ``{"port": ["--chroma-port"]}``).

    Raises:
        ValueError: ``only`` or ``spellings`` names no global option (a programming error).
    """
    names = {option.name for option in GLOBAL_OPTIONS}
    unknown = (set(only or ()) | set(spellings or {})) - names
    if unknown:
        raise ValueError(f"not global options: {sorted(unknown)}")
    chosen = [option for option in GLOBAL_OPTIONS if only is None or option.name in only]
    renamed = dict(spellings or {})

    def decorate(func: F) -> F:
        run = user_errors(func)

        @wraps(func)
        def command(**kwargs: Any) -> Any:
            ctx = click.get_current_context()
            values = {option.name: kwargs.pop(option.name) for option in chosen}
            settings = ctx.find_object(Settings)
            if settings is None:  # the command invoked on its own, not through the group
                settings = _settings_of_a_lone_command(values)
            typed = {
                name: value
                for name, value in values.items()
                if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
            }
            if typed:
                settings = replace(settings, **typed)
                if typed.get("verbose"):
                    show_library_logs()
            ctx.obj = settings
            return run(settings, **kwargs)

        decorators = [
            option.decorator(renamed.get(option.name), after=True)
            if option in chosen
            else option.refusal(chosen)
            for option in GLOBAL_OPTIONS
        ]
        return cast(F, stacked(*decorators)(command))

    return decorate


def with_settings(func: F) -> F:
    """All the global options after the command too; the :class:`Settings` passed first; errors as one line.

    See :func:`with_global_options` (for a command that uses some of the options, or spells one
    differently).
    """
    return with_global_options()(func)


def _settings_of_a_lone_command(values: Mapping[str, Any]) -> Settings:
    """The settings of a command invoked without the group: its own values, the defaults for the rest."""
    return Settings(**{option.name: values.get(option.name, option.default) for option in GLOBAL_OPTIONS})


class SettingsCommand(click.Command):
    """A command whose ``--help`` lists the global options it takes after it in a section of their own.

    Example:
        >>> from click.testing import CliRunner
        >>> @click.command(cls=SettingsCommand)
        ... @with_global_options(only=["device"])
        ... def where(settings: Settings) -> None:
        ...     click.echo(settings.device)
        >>> CliRunner().invoke(where, ["--device", "cpu"]).output
        'cpu\\n'
        >>> "Global options:" in CliRunner().invoke(where, ["--help"]).output
        True
    """

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command's own options, then the global ones with :data:`AFTER_COMMAND_RULE`."""
        own: list[tuple[str, str]] = []
        shared: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                (shared if isinstance(param, AfterCommandOption) else own).append(record)
        if own:
            with formatter.section("Options"):
                formatter.write_dl(own)
        if shared:
            with formatter.section("Global options"):
                formatter.write_text(AFTER_COMMAND_RULE)
                formatter.write_paragraph()
                formatter.write_dl(shared)
